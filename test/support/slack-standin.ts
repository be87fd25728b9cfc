/**
 * A local stand-in for Slack's Web API (and for `response_url` hooks), for integration tests.
 *
 * Point the app at it with `new App({ clientOptions: { slackApiUrl: standin.url } })` (or
 * `SLACK_API_URL=standin.url`). It answers `POST /api/<method>` the way Slack does: form-encoded
 * or JSON bodies, `Authorization: Bearer xox…` auth, `{ ok, … }` JSON answers, `429` + `Retry-After`.
 * Every call is recorded in order; posted messages are kept (with their updates) so tests can
 * assert that a card was updated in place. A few of Slack's real limits are enforced to catch bugs.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createFileUploads, type StandinFile } from "./slack-standin-files.js";
import { type WaitForOptions, waitFor } from "./wait.js";

export type SlackArgs = Record<string, unknown>;

export interface RecordedCall {
  method: string;
  /** Request arguments, with JSON-valued fields (`blocks`, `view`, `attachments`, …) decoded; `token` removed. */
  args: SlackArgs;
  /** `Date.now()` when the request arrived. */
  at: number;
  /** The bearer token (from the `Authorization` header, or a `token` body field), if any. */
  token: string | undefined;
  /** The request's content type, e.g. `application/x-www-form-urlencoded`. */
  contentType: string;
  /** HTTP status the stand-in answered with. */
  status: number;
  /** Whether the answer was `{ ok: true }`. */
  ok: boolean;
  /** The JSON answer (or the plain text for HTTP 500). */
  response: unknown;
  /** Set when the answer was a failure queued with `failNext`: tests can see where it hit. */
  injected?: true;
}

export interface RecordedResponse {
  /** The id in the response URL (see `responseUrl(id)`). */
  id: string;
  url: string;
  /** What the app posted: JSON decoded (Bolt's `respond()` posts JSON), or form fields. */
  body: unknown;
  at: number;
  contentType: string;
  status: number;
}

export type Failure =
  | { status: 429; retryAfter?: number }
  | { status: 500 }
  | { status: number; body?: string }
  | { error: string; extra?: SlackArgs };

export interface SlackUserSpec {
  name?: string;
  email?: string;
  real_name?: string;
  display_name?: string;
  tz?: string;
  deleted?: boolean;
  is_bot?: boolean;
  is_admin?: boolean;
}

export interface SlackMessage {
  type: "message";
  channel: string;
  ts: string;
  text: string;
  blocks?: unknown[];
  attachments?: unknown[];
  thread_ts?: string;
  user: string;
  bot_id: string;
  app_id: string;
  team: string;
  edited?: { user: string; ts: string };
  [key: string]: unknown;
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  message_ts: string;
  text?: string;
  blocks?: unknown[];
  attachments?: unknown[];
  thread_ts?: string;
}

export type MethodHandler = (
  args: SlackArgs,
  call: { token: string | undefined },
) => SlackArgs | Promise<SlackArgs>;

export interface SlackStandinOptions {
  teamId?: string;
  teamDomain?: string;
  teamName?: string;
  botUserId?: string;
  botUserName?: string;
  botId?: string;
  appId?: string;
  usergroups?: Record<string, string[]>;
  users?: Record<string, SlackUserSpec>;
  /** Delay every answer by this many ms (per-method with `setLatency`). */
  latencyMs?: number;
  /** Slack allows 5 posts to one response_url; the 6th gets 404 `used_url`. */
  responseUrlMaxUses?: number;
}

export interface SlackStandin {
  /** Web API base, e.g. `http://127.0.0.1:PORT/api/` (ends with `/`, as `slackApiUrl` expects). */
  readonly url: string;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly teamId: string;
  readonly teamDomain: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly appId: string;
  /** Every Web API call, in arrival order (live array). */
  readonly calls: readonly RecordedCall[];
  /** Every post to a response URL, in arrival order (live array). */
  readonly responses: readonly RecordedResponse[];
  callsTo(method: string): RecordedCall[];
  /** A URL on the stand-in that records what is POSTed to it (use as a slash command's `response_url`). */
  responseUrl(id?: string): string;
  responsesTo(idOrUrl: string): RecordedResponse[];
  setUsergroup(id: string, users: string[]): void;
  setUser(id: string, spec: SlackUserSpec): void;
  /** The DM channel id `conversations.open` returns for a user (stable: `U0LEAD1` → `D0LEAD1`). */
  dmChannelFor(userId: string): string;
  /** Make the next `times` calls to `method` (or `'*'`, or `'response_url'`) fail. */
  failNext(method: string, failure: Failure, times?: number): void;
  /** Delay answers to `method` (or `'*'`) by `ms`. */
  setLatency(method: string, ms: number): void;
  /** Override or add a method. The handler returns the answer without `ok` (it is added) or with `ok: false`. */
  on(method: string, handler: MethodHandler): void;
  /** Current version of every message posted to `channel` (a user id means that user's DM), oldest first. */
  messagesTo(channel: string): SlackMessage[];
  /** The latest version of a posted message (after any `chat.update`), or undefined. */
  currentMessage(channel: string, ts: string): SlackMessage | undefined;
  /** Every version of a message: as posted, then after each update. */
  messageVersions(channel: string, ts: string): SlackMessage[];
  /** Ephemeral messages shown to `user` (optionally only in `channel`). */
  ephemeralsTo(user: string, channel?: string): EphemeralMessage[];
  /** Modals opened/updated, by view id. */
  view(id: string): SlackArgs | undefined;
  /** The Home tab last published for a user (`views.publish`), or undefined. */
  homeOf(userId: string): SlackArgs | undefined;
  readonly views: readonly SlackArgs[];
  /** Files uploaded through files.getUploadURLExternal → upload URL → files.completeUploadExternal. */
  readonly files: readonly StandinFile[];
  waitForCall(
    method: string,
    predicate?: (call: RecordedCall) => boolean,
    opts?: WaitForOptions,
  ): Promise<RecordedCall>;
  waitForResponse(
    idOrUrl?: string,
    predicate?: (r: RecordedResponse) => boolean,
    opts?: WaitForOptions,
  ): Promise<RecordedResponse>;
  /** Forget recorded traffic, messages, views, failures, latencies and handlers. Users/groups stay unless `directory`. */
  reset(opts?: { directory?: boolean }): void;
  close(): Promise<void>;
}

/** Fields that Slack's clients JSON-encode inside form bodies. */
const JSON_FIELDS = new Set([
  "blocks",
  "attachments",
  "view",
  "metadata",
  "unfurls",
  "user_auth_blocks",
  "profile",
  "chunks",
  "files",
]);

const MAX_TEXT = 40_000;
const MAX_MESSAGE_BLOCKS = 50;
const MAX_VIEW_BLOCKS = 100;

type ApiAnswer = SlackArgs & { ok?: boolean };

class SlackError {
  constructor(
    readonly error: string,
    readonly messages: string[] = [],
  ) {}
}

function str(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function textOf(obj: unknown): string | undefined {
  return isRecord(obj) ? str(obj.text) : undefined;
}

/** Checks Block Kit blocks against Slack's documented limits; throws SlackError('invalid_blocks'). */
export function validateBlocks(blocks: unknown, maxBlocks: number): void {
  if (typeof blocks === "string") throw new SlackError("invalid_blocks_format", ["blocks is not valid JSON"]);
  if (!Array.isArray(blocks)) throw new SlackError("invalid_blocks_format", ["blocks must be an array"]);
  const problems: string[] = [];
  if (blocks.length > maxBlocks)
    problems.push(`no more than ${maxBlocks} items allowed [json-pointer:/blocks]`);
  const blockIds = new Set<string>();
  blocks.forEach((block, i) => {
    const at = `/blocks/${i}`;
    if (!isRecord(block) || typeof block.type !== "string") {
      problems.push(`block must be an object with a type [json-pointer:${at}]`);
      return;
    }
    const blockId = str(block.block_id);
    if (blockId !== undefined) {
      if (blockIds.has(blockId)) problems.push(`duplicate block_id ${blockId} [json-pointer:${at}]`);
      if (blockId.length > 255) problems.push(`block_id must be at most 255 characters [json-pointer:${at}]`);
      blockIds.add(blockId);
    }
    switch (block.type) {
      case "section": {
        const text = textOf(block.text);
        const fields = block.fields;
        if (text === undefined && !Array.isArray(fields))
          problems.push(`section needs text or fields [json-pointer:${at}]`);
        if (text !== undefined && text.length > 3000)
          problems.push(`must be at most 3000 characters [json-pointer:${at}/text]`);
        if (text !== undefined && text.length === 0)
          problems.push(`must be more than 0 characters [json-pointer:${at}/text]`);
        if (Array.isArray(fields)) {
          if (fields.length > 10) problems.push(`no more than 10 items allowed [json-pointer:${at}/fields]`);
          fields.forEach((f, j) => {
            if ((textOf(f) ?? "").length > 2000)
              problems.push(`must be at most 2000 characters [json-pointer:${at}/fields/${j}]`);
          });
        }
        if (block.accessory !== undefined) checkElement(block.accessory, `${at}/accessory`, problems);
        break;
      }
      case "header": {
        const text = textOf(block.text);
        if (text === undefined || !isRecord(block.text) || block.text.type !== "plain_text")
          problems.push(`header text must be plain_text [json-pointer:${at}]`);
        else if (text.length > 150) problems.push(`must be at most 150 characters [json-pointer:${at}/text]`);
        break;
      }
      case "actions": {
        const elements = block.elements;
        if (!Array.isArray(elements) || elements.length === 0) {
          problems.push(`actions needs elements [json-pointer:${at}]`);
          break;
        }
        if (elements.length > 25)
          problems.push(`no more than 25 items allowed [json-pointer:${at}/elements]`);
        const actionIds = new Set<string>();
        elements.forEach((el, j) => {
          checkElement(el, `${at}/elements/${j}`, problems);
          const actionId = isRecord(el) ? str(el.action_id) : undefined;
          if (actionId !== undefined) {
            if (actionIds.has(actionId))
              problems.push(`duplicate action_id ${actionId} [json-pointer:${at}/elements/${j}]`);
            actionIds.add(actionId);
          }
        });
        break;
      }
      case "context": {
        const elements = block.elements;
        if (!Array.isArray(elements) || elements.length === 0)
          problems.push(`context needs elements [json-pointer:${at}]`);
        else if (elements.length > 10)
          problems.push(`no more than 10 items allowed [json-pointer:${at}/elements]`);
        break;
      }
      case "input": {
        const label = textOf(block.label);
        if (label === undefined) problems.push(`input needs a label [json-pointer:${at}]`);
        else if (label.length > 2000)
          problems.push(`must be at most 2000 characters [json-pointer:${at}/label]`);
        if (!isRecord(block.element)) problems.push(`input needs an element [json-pointer:${at}]`);
        break;
      }
      default:
        break;
    }
  });
  if (problems.length > 0)
    throw new SlackError(
      "invalid_blocks",
      problems.map((p) => `[ERROR] ${p}`),
    );
}

function checkElement(el: unknown, at: string, problems: string[]): void {
  const ptr = (suffix = "") => `[json-pointer:${at}${suffix}]`;
  if (!isRecord(el) || typeof el.type !== "string") {
    problems.push(`element must be an object with a type ${ptr()}`);
    return;
  }
  const actionId = str(el.action_id);
  if (actionId !== undefined && actionId.length > 255)
    problems.push(`action_id must be at most 255 characters ${ptr()}`);
  if (el.type === "button") {
    if (!isRecord(el.text) || el.text.type !== "plain_text")
      problems.push(`button text must be plain_text ${ptr()}`);
    else if ((textOf(el.text) ?? "").length > 75)
      problems.push(`must be at most 75 characters ${ptr("/text")}`);
    const value = str(el.value);
    if (value !== undefined && value.length > 2000)
      problems.push(`must be at most 2000 characters ${ptr("/value")}`);
    if (el.style !== undefined && el.style !== "primary" && el.style !== "danger")
      problems.push(`style must be primary or danger ${ptr("/style")}`);
  }
}

function validateMessageContent(args: SlackArgs, requireContent: boolean): void {
  const text = args.text;
  if (text !== undefined && typeof text !== "string") throw new SlackError("invalid_arguments", ["text"]);
  if (typeof text === "string" && text.length > MAX_TEXT) throw new SlackError("msg_too_long");
  if (args.blocks !== undefined) validateBlocks(args.blocks, MAX_MESSAGE_BLOCKS);
  if (args.attachments !== undefined && !Array.isArray(args.attachments))
    throw new SlackError("invalid_attachments");
  if (
    requireContent &&
    (typeof text !== "string" || text.length === 0) &&
    (!Array.isArray(args.blocks) || args.blocks.length === 0) &&
    (!Array.isArray(args.attachments) || args.attachments.length === 0)
  )
    throw new SlackError("no_text");
}

function validateView(view: unknown, kinds: string[]): asserts view is Record<string, unknown> {
  if (typeof view === "string") throw new SlackError("invalid_arguments", ["[ERROR] view is not valid JSON"]);
  if (!isRecord(view)) throw new SlackError("invalid_arguments", ["[ERROR] missing required field: view"]);
  const problems: string[] = [];
  if (typeof view.type !== "string" || !kinds.includes(view.type))
    problems.push(`view type must be one of ${kinds.join(", ")} [json-pointer:/view/type]`);
  if (view.type === "modal") {
    const title = textOf(view.title);
    if (title === undefined) problems.push("missing required field: title [json-pointer:/view/title]");
    else if (title.length > 24)
      problems.push("must be at most 24 characters [json-pointer:/view/title/text]");
    for (const key of ["submit", "close"] as const) {
      const t = textOf(view[key]);
      if (t !== undefined && t.length > 24)
        problems.push(`must be at most 24 characters [json-pointer:/view/${key}/text]`);
    }
    const hasInput = Array.isArray(view.blocks) && view.blocks.some((b) => isRecord(b) && b.type === "input");
    if (hasInput && view.submit === undefined)
      problems.push("must provide a submit property when using input blocks [json-pointer:/view]");
  }
  const callbackId = str(view.callback_id);
  if (callbackId !== undefined && callbackId.length > 255)
    problems.push("must be at most 255 characters [json-pointer:/view/callback_id]");
  const meta = str(view.private_metadata);
  if (meta !== undefined && meta.length > 3000)
    problems.push("must be at most 3000 characters [json-pointer:/view/private_metadata]");
  if (problems.length > 0)
    throw new SlackError(
      "invalid_arguments",
      problems.map((p) => `[ERROR] ${p}`),
    );
  try {
    validateBlocks(view.blocks ?? [], MAX_VIEW_BLOCKS);
  } catch (e) {
    if (e instanceof SlackError) throw new SlackError("invalid_arguments", e.messages);
    throw e;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function parseArgs(raw: Buffer, contentType: string, query: URLSearchParams): Promise<SlackArgs> {
  const args: SlackArgs = {};
  for (const [k, v] of query) args[k] = v;
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  if (raw.length === 0) return args;
  if (type === "application/json") {
    const parsed: unknown = JSON.parse(raw.toString("utf8"));
    if (!isRecord(parsed)) throw new SlackError("invalid_json");
    return Object.assign(args, parsed);
  }
  if (type === "multipart/form-data") {
    const form = await new Response(new Uint8Array(raw), {
      headers: { "content-type": contentType },
    }).formData();
    for (const [k, v] of form) {
      args[k] = typeof v === "string" ? v : { filename: v.name, size: v.size, type: v.type };
    }
  } else {
    for (const [k, v] of new URLSearchParams(raw.toString("utf8"))) args[k] = v;
  }
  // The Web API client JSON-encodes objects inside form fields: decode them back.
  for (const key of Object.keys(args)) {
    const v = args[key];
    if (JSON_FIELDS.has(key) && typeof v === "string") {
      try {
        args[key] = JSON.parse(v);
      } catch {
        // leave as string; the method's validation reports it
      }
    }
  }
  return args;
}

export async function startSlackStandin(opts: SlackStandinOptions = {}): Promise<SlackStandin> {
  const teamId = opts.teamId ?? "T0JITTEST";
  const teamDomain = opts.teamDomain ?? "jit-test";
  const teamName = opts.teamName ?? "jit test workspace";
  const botUserId = opts.botUserId ?? "U0JITBOT";
  const botUserName = opts.botUserName ?? "jit";
  const botId = opts.botId ?? "B0JITBOT";
  const appId = opts.appId ?? "A0JITAPP";
  const maxResponseUses = opts.responseUrlMaxUses ?? 5;

  const calls: RecordedCall[] = [];
  const responses: RecordedResponse[] = [];
  const usergroups = new Map<string, string[]>(Object.entries(opts.usergroups ?? {}));
  const users = new Map<string, SlackUserSpec>(Object.entries(opts.users ?? {}));
  const failures = new Map<string, Failure[]>();
  const latency = new Map<string, number>();
  if (opts.latencyMs) latency.set("*", opts.latencyMs);
  const customHandlers = new Map<string, MethodHandler>();
  /** key `${channel}\n${ts}` → versions */
  const messages = new Map<string, SlackMessage[]>();
  const ephemerals: EphemeralMessage[] = [];
  const views = new Map<string, SlackArgs>();
  const uploads = createFileUploads(
    () => origin,
    (error, messages) => {
      throw new SlackError(error, messages);
    },
  );
  /** Like Slack: one Home view per user, whose id stays the same across publishes. */
  const homes = new Map<string, string>();
  const openedDms = new Set<string>();
  const responseUses = new Map<string, number>();
  let lastMicros = 0;
  let viewSeq = 0;
  let origin = "";

  const nextTs = (): string => {
    lastMicros = Math.max(Date.now() * 1000, lastMicros + 1);
    const sec = Math.floor(lastMicros / 1_000_000);
    return `${sec}.${String(lastMicros % 1_000_000).padStart(6, "0")}`;
  };
  const dmChannelFor = (userId: string): string => `D${userId.slice(1)}`;
  const resolveChannel = (channel: string): string =>
    /^[UW][A-Z0-9]+$/.test(channel) ? dmChannelFor(channel) : channel;
  const msgKey = (channel: string, ts: string) => `${channel}\n${ts}`;
  const required = (args: SlackArgs, name: string, error = "invalid_arguments"): string => {
    const v = str(args[name]);
    if (v === undefined || v === "") throw new SlackError(error, [`[ERROR] missing required field: ${name}`]);
    return v;
  };
  const userOf = (id: string) => {
    const spec = users.get(id) ?? {};
    const name = spec.name ?? id.toLowerCase();
    const realName = spec.real_name ?? `User ${id}`;
    const displayName = spec.display_name ?? name;
    const email = spec.email ?? `${id.toLowerCase()}@example.com`;
    return {
      id,
      team_id: teamId,
      name,
      deleted: spec.deleted ?? false,
      color: "9f69e7",
      real_name: realName,
      tz: spec.tz ?? "Etc/UTC",
      tz_label: "Coordinated Universal Time",
      tz_offset: 0,
      profile: {
        real_name: realName,
        real_name_normalized: realName,
        display_name: displayName,
        display_name_normalized: displayName,
        email,
        team: teamId,
        image_48: `https://avatars.example.com/${id}_48.png`,
      },
      is_admin: spec.is_admin ?? false,
      is_owner: false,
      is_primary_owner: false,
      is_restricted: false,
      is_ultra_restricted: false,
      is_bot: spec.is_bot ?? false,
      is_app_user: false,
      updated: 1_700_000_000,
    };
  };
  const storeView = (view: Record<string, unknown>, id: string, previous?: SlackArgs): SlackArgs => {
    const stored: SlackArgs = {
      id,
      team_id: teamId,
      type: view.type,
      blocks: view.blocks ?? [],
      private_metadata: str(view.private_metadata) ?? "",
      callback_id: str(view.callback_id) ?? "",
      state: { values: {} },
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString("hex")}`,
      title: view.title,
      clear_on_close: view.clear_on_close ?? false,
      notify_on_close: view.notify_on_close ?? false,
      close: view.close ?? null,
      submit: view.submit ?? null,
      previous_view_id: previous?.previous_view_id ?? null,
      root_view_id: previous?.root_view_id ?? id,
      app_id: appId,
      external_id: str(view.external_id) ?? "",
      app_installed_team_id: teamId,
      bot_id: botId,
    };
    views.set(id, stored);
    return stored;
  };
  const findView = (args: SlackArgs): SlackArgs => {
    const viewId = str(args.view_id);
    const externalId = str(args.external_id);
    const found =
      viewId !== undefined
        ? views.get(viewId)
        : [...views.values()].find((v) => externalId !== undefined && v.external_id === externalId);
    if (!found) throw new SlackError("not_found");
    const hash = str(args.hash);
    if (hash !== undefined && hash !== found.hash) throw new SlackError("hash_conflict");
    return found;
  };

  const builtins: Record<string, (args: SlackArgs) => ApiAnswer> = {
    ...uploads.methods,
    "api.test": (args) => ({ args }),
    "auth.test": () => ({
      url: `https://${teamDomain}.slack.com/`,
      team: teamName,
      user: botUserName,
      team_id: teamId,
      user_id: botUserId,
      bot_id: botId,
      is_enterprise_install: false,
    }),
    "chat.postMessage": (args) => {
      const channel = resolveChannel(required(args, "channel", "channel_not_found"));
      validateMessageContent(args, true);
      const ts = nextTs();
      const message: SlackMessage = {
        type: "message",
        channel,
        ts,
        text: str(args.text) ?? "",
        user: botUserId,
        bot_id: botId,
        app_id: appId,
        team: teamId,
      };
      if (Array.isArray(args.blocks)) message.blocks = args.blocks;
      if (Array.isArray(args.attachments)) message.attachments = args.attachments;
      // Like Slack: a reply joins the thread of a message that exists in this channel (a reply's own
      // ts names its parent's thread); when the parent is gone Slack does not fail, it posts the
      // message un-threaded, and only the missing `thread_ts` in the answer tells.
      const threadTs = str(args.thread_ts);
      const parent = threadTs === undefined ? undefined : current(messages.get(msgKey(channel, threadTs)));
      if (parent) message.thread_ts = parent.thread_ts ?? parent.ts;
      messages.set(msgKey(channel, ts), [message]);
      const { channel: _c, ...wire } = message;
      return { channel, ts, message: wire };
    },
    "chat.update": (args) => {
      const channel = required(args, "channel", "channel_not_found");
      const ts = required(args, "ts", "message_not_found");
      const versions = messages.get(msgKey(channel, ts));
      const current = versions?.at(-1);
      if (!versions || !current) throw new SlackError("message_not_found");
      validateMessageContent(args, false);
      const next: SlackMessage = { ...current, edited: { user: botUserId, ts: nextTs() } };
      // Like Slack: omitted fields keep their previous value; an empty array clears blocks/attachments.
      if (args.text !== undefined) next.text = str(args.text) ?? "";
      if (Array.isArray(args.blocks)) {
        if (args.blocks.length > 0) next.blocks = args.blocks;
        else delete next.blocks;
      }
      if (Array.isArray(args.attachments)) {
        if (args.attachments.length > 0) next.attachments = args.attachments;
        else delete next.attachments;
      }
      versions.push(next);
      const { channel: _c, ...wire } = next;
      return { channel, ts, text: next.text, message: wire };
    },
    "chat.delete": (args) => {
      const channel = required(args, "channel", "channel_not_found");
      const ts = required(args, "ts", "message_not_found");
      if (!messages.delete(msgKey(channel, ts))) throw new SlackError("message_not_found");
      return { channel, ts };
    },
    "chat.postEphemeral": (args) => {
      const channel = resolveChannel(required(args, "channel", "channel_not_found"));
      const user = required(args, "user", "user_not_found");
      validateMessageContent(args, true);
      const messageTs = nextTs();
      const eph: EphemeralMessage = { channel, user, message_ts: messageTs };
      if (typeof args.text === "string") eph.text = args.text;
      if (Array.isArray(args.blocks)) eph.blocks = args.blocks;
      if (Array.isArray(args.attachments)) eph.attachments = args.attachments;
      const threadTs = str(args.thread_ts);
      if (threadTs !== undefined) eph.thread_ts = threadTs;
      ephemerals.push(eph);
      return { message_ts: messageTs };
    },
    "conversations.open": (args) => {
      const existing = str(args.channel);
      let ids: string[];
      if (Array.isArray(args.users)) ids = args.users.map(String);
      else ids = (str(args.users) ?? "").split(",").map((u) => u.trim());
      ids = ids.filter((u) => u !== "");
      let channelId: string;
      if (existing) channelId = existing;
      else if (ids.length === 0) throw new SlackError("users_list_not_supplied");
      else if (ids.length > 8) throw new SlackError("too_many_users");
      else if (ids.length === 1) channelId = dmChannelFor(ids[0] as string);
      else
        channelId = `G${createHash("sha256").update(ids.sort().join(",")).digest("hex").slice(0, 10).toUpperCase()}`;
      const already = openedDms.has(channelId);
      openedDms.add(channelId);
      const returnIm = str(args.return_im) === "true" || args.return_im === true;
      const channel: SlackArgs = returnIm
        ? {
            id: channelId,
            created: Math.floor(Date.now() / 1000),
            is_im: ids.length === 1,
            is_org_shared: false,
            user: ids[0],
            is_user_deleted: false,
            priority: 0,
          }
        : { id: channelId };
      return already ? { no_op: true, already_open: true, channel } : { channel };
    },
    "conversations.join": (args) => {
      const channel = required(args, "channel", "channel_not_found");
      // Like Slack: a bot cannot join a private channel by itself (here: ids starting with G).
      if (channel.startsWith("G")) throw new SlackError("method_not_supported_for_channel_type");
      return { channel: { id: channel, is_channel: true, is_private: false, is_member: true } };
    },
    "views.open": (args) => {
      required(args, "trigger_id");
      validateView(args.view, ["modal"]);
      viewSeq += 1;
      const id = `V${String(viewSeq).padStart(10, "0")}`;
      return { view: storeView(args.view, id) };
    },
    "views.push": (args) => {
      required(args, "trigger_id");
      validateView(args.view, ["modal"]);
      viewSeq += 1;
      const id = `V${String(viewSeq).padStart(10, "0")}`;
      return { view: storeView(args.view, id) };
    },
    "views.update": (args) => {
      validateView(args.view, ["modal", "home"]);
      const found = findView(args);
      return { view: storeView(args.view, String(found.id), found) };
    },
    "views.publish": (args) => {
      const user = required(args, "user_id");
      // Slack's limits for a Home tab: type home, at most 100 blocks (validateView), and the
      // usual per-block rules; a publish that breaks one is refused and changes nothing.
      validateView(args.view, ["home"]);
      const previous = homes.get(user);
      const id = previous ?? `V${String(++viewSeq).padStart(10, "0")}`;
      homes.set(user, id);
      return { view: storeView(args.view, id, previous ? views.get(previous) : undefined) };
    },
    "usergroups.users.list": (args) => {
      const group = str(args.usergroup);
      const members = group === undefined ? undefined : usergroups.get(group);
      if (!members) throw new SlackError("no_such_subteam");
      return { users: [...members] };
    },
    "users.info": (args) => {
      const id = required(args, "user", "user_not_found");
      if (!users.has(id) && !/^[UW][A-Z0-9]+$/.test(id)) throw new SlackError("user_not_found");
      return { user: userOf(id) };
    },
    "users.lookupByEmail": (args) => {
      const email = required(args, "email", "users_not_found").toLowerCase();
      for (const id of users.keys()) {
        if (userOf(id).profile.email.toLowerCase() === email) return { user: userOf(id) };
      }
      const m = /^([uw][a-z0-9]+)@example\.com$/.exec(email);
      if (m?.[1] && !users.has(m[1].toUpperCase())) return { user: userOf(m[1].toUpperCase()) };
      throw new SlackError("users_not_found");
    },
  };

  const takeFailure = (method: string): Failure | undefined => {
    for (const key of [method, "*"]) {
      const queue = failures.get(key);
      if (queue && queue.length > 0) {
        const f = queue.shift();
        if (queue.length === 0) failures.delete(key);
        return f;
      }
    }
    return undefined;
  };
  const delayFor = async (method: string): Promise<void> => {
    const ms = latency.get(method) ?? latency.get("*") ?? 0;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  };
  const sendJson = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  };

  async function handleApi(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    url: URL,
  ): Promise<void> {
    const at = Date.now();
    const contentType = String(req.headers["content-type"] ?? "");
    const raw = await readBody(req);
    const auth = String(req.headers.authorization ?? "");
    const headerToken = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
    const call: RecordedCall = {
      method,
      args: {},
      at,
      token: headerToken,
      contentType,
      status: 200,
      ok: false,
      response: undefined,
    };
    calls.push(call);
    let status = 200;
    let answer: ApiAnswer;
    let headers: Record<string, string> = {};
    try {
      try {
        call.args = await parseArgs(raw, contentType, url.searchParams);
      } catch (e) {
        throw e instanceof SlackError ? e : new SlackError("invalid_json");
      }
      // Slack also accepts the token as a form field; the Web API client sends it there too when
      // `token` is passed per call (Bolt's auth.test does). Never keep it in the recorded args.
      const bodyToken = str(call.args.token);
      delete call.args.token;
      call.token = headerToken ?? bodyToken;
      await delayFor(method);
      const failure = takeFailure(method);
      if (failure) call.injected = true;
      if (failure && "status" in failure) {
        status = failure.status;
        if (status === 429) {
          const retryAfter =
            "retryAfter" in failure && failure.retryAfter !== undefined ? failure.retryAfter : 1;
          headers = { "retry-after": String(retryAfter) };
          answer = { ok: false, error: "ratelimited" };
        } else {
          const body =
            "body" in failure && failure.body !== undefined ? failure.body : "Internal Server Error";
          call.status = status;
          call.response = body;
          res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
          res.end(body);
          return;
        }
      } else if (failure) {
        answer = { ok: false, error: failure.error, ...(failure.extra ?? {}) };
      } else if (!call.token) {
        answer = { ok: false, error: "not_authed" };
      } else if (!/^(xox[a-z]|xapp)-/.test(call.token)) {
        answer = { ok: false, error: "invalid_auth" };
      } else {
        const custom = customHandlers.get(method);
        const builtin = builtins[method];
        if (custom) {
          const out = await custom(call.args, { token: call.token });
          answer = { ok: true, ...out };
        } else if (builtin) {
          answer = { ok: true, ...builtin(call.args) };
        } else {
          answer = { ok: false, error: "unknown_method" };
        }
      }
    } catch (e) {
      if (!(e instanceof SlackError)) {
        call.status = 500;
        call.response = String(e);
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
        res.end(`stand-in error: ${e instanceof Error ? e.stack : String(e)}`);
        return;
      }
      answer = { ok: false, error: e.error };
      if (e.messages.length > 0) answer.response_metadata = { messages: e.messages };
    }
    call.status = status;
    call.ok = answer.ok === true;
    call.response = answer;
    sendJson(res, status, answer, headers);
  }

  async function handleHook(req: IncomingMessage, res: ServerResponse, id: string, url: URL): Promise<void> {
    const at = Date.now();
    const contentType = String(req.headers["content-type"] ?? "");
    const raw = await readBody(req);
    let body: unknown = raw.toString("utf8");
    try {
      body = await parseArgs(raw, contentType, new URLSearchParams());
    } catch {
      // keep the raw text
    }
    const record: RecordedResponse = {
      id,
      url: `${origin}${url.pathname}`,
      body,
      at,
      contentType,
      status: 200,
    };
    responses.push(record);
    await delayFor("response_url");
    const failure = takeFailure("response_url");
    const uses = (responseUses.get(id) ?? 0) + 1;
    responseUses.set(id, uses);
    let status = 200;
    let text = "ok";
    if (failure && "status" in failure) {
      status = failure.status;
      text =
        "body" in failure && failure.body !== undefined
          ? failure.body
          : status === 429
            ? "rate_limited"
            : "error";
    } else if (failure) {
      status = 404;
      text = failure.error;
    } else if (uses > maxResponseUses) {
      status = 404;
      text = "used_url";
    }
    record.status = status;
    const headers: Record<string, string> = { "content-type": "text/html" };
    if (status === 429)
      headers["retry-after"] = String(failure && "retryAfter" in failure ? failure.retryAfter : 1);
    res.writeHead(status, headers);
    res.end(text);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const api = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
    const hook = /^\/hooks\/([^/]+)$/.exec(url.pathname);
    const upload = /^\/upload\/([A-Z0-9]+)$/.exec(url.pathname);
    let work: Promise<void>;
    if (req.method === "POST" && api?.[1]) work = handleApi(req, res, api[1], url);
    else if (req.method === "POST" && hook?.[1])
      work = handleHook(req, res, decodeURIComponent(hook[1]), url);
    else if (req.method === "POST" && upload?.[1]) {
      const id = upload[1];
      work = readBody(req).then((raw) => uploads.handleUpload(req, res, id, raw));
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
      return;
    }
    work.catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;

  const hookIdOf = (idOrUrl: string): string => {
    const m = /\/hooks\/([^/?#]+)/.exec(idOrUrl);
    return m?.[1] ? decodeURIComponent(m[1]) : idOrUrl;
  };
  const current = (versions: SlackMessage[] | undefined) => versions?.at(-1);

  const standin: SlackStandin = {
    url: `${origin}/api/`,
    origin,
    teamId,
    teamDomain,
    botUserId,
    botId,
    appId,
    calls,
    responses,
    callsTo: (method) => calls.filter((c) => c.method === method),
    responseUrl: (id) => `${origin}/hooks/${encodeURIComponent(id ?? randomBytes(8).toString("hex"))}`,
    responsesTo: (idOrUrl) => {
      const id = hookIdOf(idOrUrl);
      return responses.filter((r) => r.id === id);
    },
    setUsergroup: (id, members) => {
      usergroups.set(id, [...members]);
    },
    setUser: (id, spec) => {
      users.set(id, { ...users.get(id), ...spec });
    },
    dmChannelFor,
    failNext: (method, failure, times = 1) => {
      const queue = failures.get(method) ?? [];
      for (let i = 0; i < times; i++) queue.push(failure);
      failures.set(method, queue);
    },
    setLatency: (method, ms) => {
      latency.set(method, ms);
    },
    on: (method, handler) => {
      customHandlers.set(method, handler);
    },
    messagesTo: (channel) => {
      const id = resolveChannel(channel);
      const out: SlackMessage[] = [];
      for (const versions of messages.values()) {
        const m = current(versions);
        if (m && m.channel === id) out.push(m);
      }
      return out.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    },
    currentMessage: (channel, ts) => current(messages.get(msgKey(channel, ts))),
    messageVersions: (channel, ts) => [...(messages.get(msgKey(channel, ts)) ?? [])],
    ephemeralsTo: (user, channel) =>
      ephemerals.filter(
        (e) => e.user === user && (channel === undefined || e.channel === resolveChannel(channel)),
      ),
    view: (id) => views.get(id),
    homeOf: (userId) => {
      const id = homes.get(userId);
      return id === undefined ? undefined : views.get(id);
    },
    get views() {
      return [...views.values()];
    },
    get files() {
      return [...uploads.files.values()];
    },
    waitForCall: (method, predicate = () => true, waitOpts) =>
      waitFor(() => calls.find((c) => c.method === method && predicate(c)), {
        message: `no ${method} call matched`,
        ...waitOpts,
      }),
    waitForResponse: (idOrUrl, predicate = () => true, waitOpts) =>
      waitFor(
        () => responses.find((r) => (idOrUrl === undefined || r.id === hookIdOf(idOrUrl)) && predicate(r)),
        { message: `no response_url post matched${idOrUrl ? ` for ${idOrUrl}` : ""}`, ...waitOpts },
      ),
    reset: ({ directory = false } = {}) => {
      calls.length = 0;
      responses.length = 0;
      messages.clear();
      ephemerals.length = 0;
      views.clear();
      homes.clear();
      failures.clear();
      latency.clear();
      customHandlers.clear();
      openedDms.clear();
      responseUses.clear();
      uploads.files.clear();
      if (opts.latencyMs) latency.set("*", opts.latencyMs);
      if (directory) {
        usergroups.clear();
        users.clear();
      }
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
  return standin;
}
