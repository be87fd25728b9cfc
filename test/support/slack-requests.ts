/**
 * Builds and sends requests to the app exactly as Slack does: signed `POST /slack/events` with
 * `application/x-www-form-urlencoded` bodies (slash commands; interactivity as `payload=<JSON>`)
 * or JSON bodies (Events API).
 *
 * Bolt compares the content type with `===`: it must be exactly `application/x-www-form-urlencoded`
 * (no `; charset=…`, which `fetch` adds for a URLSearchParams body), so bodies are sent as strings
 * with an explicit header.
 */
import { createHmac, randomBytes, randomInt } from "node:crypto";

/** Identities that match the stand-in's defaults (see slack-standin.ts). */
export const SLACK_DEFAULTS = {
  teamId: "T0JITTEST",
  teamDomain: "jit-test",
  appId: "A0JITAPP",
  botUserId: "U0JITBOT",
  botId: "B0JITBOT",
  /** The deprecated verification token Slack still sends in every body. */
  verificationToken: "jItVeRiFiCaTiOnToKeN0000",
  command: "/jit",
  channelId: "C0GENERAL",
  channelName: "general",
} as const;

export interface SignedHeaders {
  "X-Slack-Request-Timestamp": string;
  "X-Slack-Signature": string;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Slack's request signature: `v0=<hex HMAC-SHA256(secret, "v0:<ts>:<raw body>")>`. */
export function sign(body: string, secret: string, timestamp: number = nowSeconds()): SignedHeaders {
  const hex = createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex");
  return { "X-Slack-Request-Timestamp": String(timestamp), "X-Slack-Signature": `v0=${hex}` };
}

/** What Slack's client does to typed text before sending it to an app: `&`, `<`, `>` as entities. */
export function slackEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Form-encodes fields in order, as Slack does (`+` for spaces, `%2F` for `/`). */
export function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export function triggerId(): string {
  return `${randomInt(1e9, 1e10)}.${randomInt(1e8, 1e9)}.${randomBytes(16).toString("hex")}`;
}

function slackTs(): string {
  const micros = Date.now() * 1000 + randomInt(0, 1000);
  return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, "0")}`;
}

function channelNameFor(channelId: string): string {
  if (channelId.startsWith("D")) return "directmessage";
  if (channelId.startsWith("G")) return "privategroup";
  return channelId === SLACK_DEFAULTS.channelId ? SLACK_DEFAULTS.channelName : channelId.toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Slash commands
// ---------------------------------------------------------------------------------------------

export interface SlashCommandFields {
  /** Sent verbatim (Slack has already escaped `&<>` by now: use `slackEscape` to mimic typing). */
  text: string;
  userId: string;
  userName?: string;
  teamId?: string;
  teamDomain?: string;
  enterpriseId?: string;
  enterpriseName?: string;
  channelId?: string;
  channelName?: string;
  command?: string;
  responseUrl: string;
  triggerId?: string;
  apiAppId?: string;
  token?: string;
  isEnterpriseInstall?: boolean;
}

/** The fields Slack posts for a slash command, in Slack's order. */
export function slashCommandFields(f: SlashCommandFields): Record<string, string> {
  const channelId = f.channelId ?? SLACK_DEFAULTS.channelId;
  const fields: Record<string, string> = {
    token: f.token ?? SLACK_DEFAULTS.verificationToken,
    team_id: f.teamId ?? SLACK_DEFAULTS.teamId,
    team_domain: f.teamDomain ?? SLACK_DEFAULTS.teamDomain,
  };
  if (f.enterpriseId !== undefined) {
    fields.enterprise_id = f.enterpriseId;
    fields.enterprise_name = f.enterpriseName ?? "Enterprise";
  }
  Object.assign(fields, {
    channel_id: channelId,
    channel_name: f.channelName ?? channelNameFor(channelId),
    user_id: f.userId,
    user_name: f.userName ?? f.userId.toLowerCase(),
    command: f.command ?? SLACK_DEFAULTS.command,
    text: f.text,
    api_app_id: f.apiAppId ?? SLACK_DEFAULTS.appId,
    is_enterprise_install: String(f.isEnterpriseInstall ?? false),
    response_url: f.responseUrl,
    trigger_id: f.triggerId ?? triggerId(),
  });
  return fields;
}

export function slashCommandBody(f: SlashCommandFields): string {
  return formBody(slashCommandFields(f));
}

// ---------------------------------------------------------------------------------------------
// Interactivity: block_actions
// ---------------------------------------------------------------------------------------------

export interface BlockActionFields {
  userId: string;
  userName?: string;
  actionId: string;
  value: string;
  blockId?: string;
  /** Button label (defaults to the action id, capitalised). */
  buttonText?: string;
  style?: "primary" | "danger";
  channel?: string;
  channelName?: string;
  messageTs?: string;
  /** The message the button sits on, e.g. `standin.currentMessage(channel, ts)` (its `channel` key is dropped). */
  message?: Record<string, unknown>;
  isEphemeral?: boolean;
  responseUrl: string;
  triggerId?: string;
  teamId?: string;
  teamDomain?: string;
  apiAppId?: string;
  token?: string;
  actionTs?: string;
}

export function blockActionPayload(f: BlockActionFields): Record<string, unknown> {
  const teamId = f.teamId ?? SLACK_DEFAULTS.teamId;
  const channelId = f.channel ?? SLACK_DEFAULTS.channelId;
  const userName = f.userName ?? f.userId.toLowerCase();
  const blockId = f.blockId ?? "actions";
  const text = f.buttonText ?? f.actionId.charAt(0).toUpperCase() + f.actionId.slice(1);
  const action: Record<string, unknown> = {
    action_id: f.actionId,
    block_id: blockId,
    text: { type: "plain_text", text, emoji: true },
    value: f.value,
    type: "button",
    action_ts: f.actionTs ?? slackTs(),
  };
  if (f.style) action.style = f.style;
  let message: Record<string, unknown> | undefined;
  if (f.message) {
    const { channel: _channel, ...rest } = f.message;
    message = rest;
  }
  const messageTs = f.messageTs ?? (typeof message?.ts === "string" ? message.ts : slackTs());
  if (!f.isEphemeral) {
    message ??= {
      type: "message",
      user: SLACK_DEFAULTS.botUserId,
      ts: messageTs,
      bot_id: SLACK_DEFAULTS.botId,
      app_id: f.apiAppId ?? SLACK_DEFAULTS.appId,
      text: "This content can't be displayed.",
      team: teamId,
      blocks: [
        {
          type: "actions",
          block_id: blockId,
          elements: [
            {
              type: "button",
              action_id: f.actionId,
              text: { type: "plain_text", text, emoji: true },
              value: f.value,
              ...(f.style ? { style: f.style } : {}),
            },
          ],
        },
      ],
    };
  }
  const payload: Record<string, unknown> = {
    type: "block_actions",
    user: { id: f.userId, username: userName, name: userName, team_id: teamId },
    api_app_id: f.apiAppId ?? SLACK_DEFAULTS.appId,
    token: f.token ?? SLACK_DEFAULTS.verificationToken,
    container: {
      type: "message",
      message_ts: messageTs,
      channel_id: channelId,
      is_ephemeral: f.isEphemeral ?? false,
    },
    trigger_id: f.triggerId ?? triggerId(),
    team: { id: teamId, domain: f.teamDomain ?? SLACK_DEFAULTS.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channelId, name: f.channelName ?? channelNameFor(channelId) },
  };
  if (message) payload.message = message;
  payload.state = { values: {} };
  payload.response_url = f.responseUrl;
  payload.actions = [action];
  return payload;
}

export function blockActionBody(f: BlockActionFields): string {
  return formBody({ payload: JSON.stringify(blockActionPayload(f)) });
}

// ---------------------------------------------------------------------------------------------
// Interactivity: view_submission
// ---------------------------------------------------------------------------------------------

/**
 * A value in `view.state.values[blockId][actionId]`. A plain string is shorthand for a
 * `plain_text_input`; objects without `type` get one inferred from their keys
 * (`selected_option` → static_select, `selected_date` → datepicker, …). `selected_option`
 * may be given as just its value string.
 */
export type ViewStateInput =
  | string
  | ({ type?: string; selected_option?: string | { value: string; text?: unknown } | null } & Record<
      string,
      unknown
    >);

export interface ViewSubmissionFields {
  userId: string;
  userName?: string;
  callbackId: string;
  privateMetadata?: string;
  values: Record<string, Record<string, ViewStateInput>>;
  viewId?: string;
  title?: string;
  /** Defaults to input blocks synthesised from `values`. */
  blocks?: unknown[];
  externalId?: string;
  hash?: string;
  triggerId?: string;
  teamId?: string;
  teamDomain?: string;
  apiAppId?: string;
  token?: string;
  /** Only present when the modal has `response_url_enabled` inputs. */
  responseUrls?: { block_id: string; action_id: string; channel_id: string; response_url: string }[];
}

function normaliseStateValue(input: ViewStateInput): Record<string, unknown> {
  if (typeof input === "string") return { type: "plain_text_input", value: input };
  const out: Record<string, unknown> = { ...input };
  const opt = out.selected_option;
  if (typeof opt === "string") {
    out.selected_option = { text: { type: "plain_text", text: opt, emoji: true }, value: opt };
  } else if (opt && typeof opt === "object" && !("text" in opt)) {
    const value = String((opt as { value: unknown }).value);
    out.selected_option = { text: { type: "plain_text", text: value, emoji: true }, value };
  }
  if (out.type === undefined) {
    if ("selected_option" in out) out.type = "static_select";
    else if ("selected_options" in out) out.type = "multi_static_select";
    else if ("selected_date" in out) out.type = "datepicker";
    else if ("selected_time" in out) out.type = "timepicker";
    else if ("selected_user" in out) out.type = "users_select";
    else if ("selected_users" in out) out.type = "multi_users_select";
    else if ("selected_conversation" in out) out.type = "conversations_select";
    else if ("selected_channel" in out) out.type = "channels_select";
    else out.type = "plain_text_input";
  }
  return out;
}

export function viewStateValues(
  values: Record<string, Record<string, ViewStateInput>>,
): Record<string, Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const [blockId, actions] of Object.entries(values)) {
    const block: Record<string, Record<string, unknown>> = {};
    for (const [actionId, v] of Object.entries(actions)) block[actionId] = normaliseStateValue(v);
    out[blockId] = block;
  }
  return out;
}

export function viewSubmissionPayload(f: ViewSubmissionFields): Record<string, unknown> {
  const teamId = f.teamId ?? SLACK_DEFAULTS.teamId;
  const appId = f.apiAppId ?? SLACK_DEFAULTS.appId;
  const userName = f.userName ?? f.userId.toLowerCase();
  const viewId = f.viewId ?? `V${randomBytes(5).toString("hex").toUpperCase()}`;
  const values = viewStateValues(f.values);
  const blocks =
    f.blocks ??
    Object.entries(values).map(([blockId, actions]) => {
      const [actionId, v] = Object.entries(actions)[0] ?? ["input", { type: "plain_text_input" }];
      return {
        type: "input",
        block_id: blockId,
        label: { type: "plain_text", text: blockId, emoji: true },
        optional: false,
        dispatch_action: false,
        element: { type: v.type, action_id: actionId },
      };
    });
  return {
    type: "view_submission",
    team: { id: teamId, domain: f.teamDomain ?? SLACK_DEFAULTS.teamDomain },
    user: { id: f.userId, username: userName, name: userName, team_id: teamId },
    api_app_id: appId,
    token: f.token ?? SLACK_DEFAULTS.verificationToken,
    trigger_id: f.triggerId ?? triggerId(),
    view: {
      id: viewId,
      team_id: teamId,
      type: "modal",
      blocks,
      private_metadata: f.privateMetadata ?? "",
      callback_id: f.callbackId,
      state: { values },
      hash: f.hash ?? `${nowSeconds()}.${randomBytes(4).toString("hex")}`,
      title: { type: "plain_text", text: f.title ?? "jit", emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      close: { type: "plain_text", text: "Cancel", emoji: true },
      submit: { type: "plain_text", text: "Submit", emoji: true },
      previous_view_id: null,
      root_view_id: viewId,
      app_id: appId,
      external_id: f.externalId ?? "",
      app_installed_team_id: teamId,
      bot_id: SLACK_DEFAULTS.botId,
    },
    response_urls: f.responseUrls ?? [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

export function viewSubmissionBody(f: ViewSubmissionFields): string {
  return formBody({ payload: JSON.stringify(viewSubmissionPayload(f)) });
}

// ---------------------------------------------------------------------------------------------
// Events API (JSON bodies)
// ---------------------------------------------------------------------------------------------

export function eventCallbackBody(
  event: Record<string, unknown>,
  opts: { teamId?: string; apiAppId?: string; eventId?: string; token?: string } = {},
): Record<string, unknown> {
  const teamId = opts.teamId ?? SLACK_DEFAULTS.teamId;
  return {
    token: opts.token ?? SLACK_DEFAULTS.verificationToken,
    team_id: teamId,
    context_team_id: teamId,
    context_enterprise_id: null,
    api_app_id: opts.apiAppId ?? SLACK_DEFAULTS.appId,
    event: { event_ts: slackTs(), ...event },
    type: "event_callback",
    event_id: opts.eventId ?? `Ev${randomBytes(5).toString("hex").toUpperCase()}`,
    event_time: nowSeconds(),
    authorizations: [
      {
        enterprise_id: null,
        team_id: teamId,
        user_id: SLACK_DEFAULTS.botUserId,
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

export interface SendOptions {
  secret: string;
  /** Unix seconds used in the signature and header (default now); set it in the past for stale tests. */
  timestamp?: number;
  /** Send this `X-Slack-Signature` instead of the correct one. */
  signature?: string;
  /** Omit both signature headers. */
  unsigned?: boolean;
  /** Default: `application/x-www-form-urlencoded` for string bodies, `application/json` for objects. */
  contentType?: string;
  /** Adds `X-Slack-Retry-Num` / `X-Slack-Retry-Reason`, as Slack does when it redelivers an event. */
  retryNum?: number;
  retryReason?: string;
  headers?: Record<string, string>;
  /** Request path appended to appUrl when it has none (default `/slack/events`). */
  path?: string;
  timeoutMs?: number;
}

export interface SendResult {
  status: number;
  text: string;
  json?: unknown;
  /** Milliseconds until the response was complete (Slack gives up after 3000). */
  ms: number;
  headers: Headers;
}

function eventsUrl(appUrl: string, path: string): string {
  const u = new URL(appUrl);
  if (u.pathname === "/" || u.pathname === "") u.pathname = path;
  return u.toString();
}

export async function sendSigned(
  appUrl: string,
  body: string | object,
  opts: SendOptions,
): Promise<SendResult> {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const headers: Record<string, string> = {
    "Content-Type":
      opts.contentType ??
      (typeof body === "string" ? "application/x-www-form-urlencoded" : "application/json"),
    "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
  };
  if (!opts.unsigned) {
    const signed = sign(raw, opts.secret, opts.timestamp ?? nowSeconds());
    headers["X-Slack-Request-Timestamp"] = signed["X-Slack-Request-Timestamp"];
    headers["X-Slack-Signature"] = opts.signature ?? signed["X-Slack-Signature"];
  }
  if (opts.retryNum !== undefined) headers["X-Slack-Retry-Num"] = String(opts.retryNum);
  if (opts.retryReason !== undefined) headers["X-Slack-Retry-Reason"] = opts.retryReason;
  Object.assign(headers, opts.headers);
  const started = performance.now();
  const res = await fetch(eventsUrl(appUrl, opts.path ?? "/slack/events"), {
    method: "POST",
    headers,
    body: raw,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  const result: SendResult = { status: res.status, text, ms, headers: res.headers };
  if (text.length > 0) {
    try {
      result.json = JSON.parse(text);
    } catch {
      // not JSON
    }
  }
  return result;
}

type ExtraSendOptions = Omit<SendOptions, "secret">;

export function sendSlashCommand(
  appUrl: string,
  secret: string,
  fields: SlashCommandFields,
  opts: ExtraSendOptions = {},
): Promise<SendResult> {
  return sendSigned(appUrl, slashCommandBody(fields), { ...opts, secret });
}

export function clickButton(
  appUrl: string,
  secret: string,
  fields: BlockActionFields,
  opts: ExtraSendOptions = {},
): Promise<SendResult> {
  return sendSigned(appUrl, blockActionBody(fields), { ...opts, secret });
}

export interface DecisionClick {
  userId: string;
  action: "jit_approve" | "jit_deny";
  requestId: string;
  responseUrl: string;
}

/** The body Slack posts when someone clicks Approve or Deny on a request's approval card. */
export function decisionClickBody(f: DecisionClick): string {
  return blockActionBody({
    userId: f.userId,
    actionId: f.action,
    value: f.requestId,
    blockId: `decide:${f.requestId}`,
    responseUrl: f.responseUrl,
  });
}

/** Clicks Approve or Deny on a request's approval card, as Slack sends it; throws unless answered 200. */
export async function clickDecision(
  appUrl: string,
  secret: string,
  f: DecisionClick,
  opts: ExtraSendOptions = {},
): Promise<void> {
  const result = await sendSigned(appUrl, decisionClickBody(f), { ...opts, secret });
  if (result.status !== 200) throw new Error(`click answered ${result.status}`);
}

/**
 * One delivery, signed once, as Slack makes it. `send()` posts it; `send(appUrl, retry)` posts the
 * very same bytes again (same body, timestamp and signature) with `X-Slack-Retry-Num` and
 * `X-Slack-Retry-Reason`: what Slack does when it thinks the first delivery was not answered in time.
 */
export function signedDelivery(body: string, secret: string, timestamp: number = nowSeconds()) {
  return {
    body,
    headers: sign(body, secret, timestamp),
    send(appUrl: string, retry?: { num: number; reason: "http_timeout" | "http_error" }) {
      return sendSigned(appUrl, body, {
        secret,
        timestamp,
        ...(retry ? { retryNum: retry.num, retryReason: retry.reason } : {}),
      });
    },
  };
}

export function submitView(
  appUrl: string,
  secret: string,
  fields: ViewSubmissionFields,
  opts: ExtraSendOptions = {},
): Promise<SendResult> {
  return sendSigned(appUrl, viewSubmissionBody(fields), { ...opts, secret });
}

export function sendEvent(
  appUrl: string,
  secret: string,
  event: Record<string, unknown>,
  opts: ExtraSendOptions & { eventId?: string } = {},
): Promise<SendResult> {
  const { eventId, ...rest } = opts;
  return sendSigned(appUrl, eventCallbackBody(event, eventId ? { eventId } : {}), { ...rest, secret });
}
