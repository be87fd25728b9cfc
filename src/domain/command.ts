/**
 * Reads the text of `/jit …` into a typed command. Grammar only: whether the resource exists, the
 * caller may use it, or the duration fits the policy is decided later, where the policy is known.
 * Malformed input becomes `{ kind: "invalid", message }` with a message that says what was wrong and
 * how to write it; this function never throws, whatever Slack sends.
 *
 * All strings in the result are plain text (see `mrkdwn.ts`): `reason` is what the user really
 * typed, and messages may quote user input, so views escape them with `escapeMrkdwn` when sending.
 */
import { parseDuration } from "./duration.js";
import { isRequestId, normalizeRequestId } from "./ids.js";
import { quote, unescapeMrkdwn } from "./mrkdwn.js";

export const AUDIT_WINDOWS = ["24h", "7d", "30d"] as const;
export type AuditWindow = (typeof AUDIT_WINDOWS)[number];

/** Resource ids as written in the policy file; lower case so `Staging-DB` can't shadow `staging-db`. */
export const RESOURCE_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const MAX_REASON_LENGTH = 1000;

export type ParsedCommand =
  | { kind: "help" }
  | { kind: "request-modal" }
  | { kind: "request"; resource: string; durationSec: number; reason: string }
  | { kind: "breakglass"; resource: string; durationSec: number; reason: string }
  | { kind: "resources" }
  | { kind: "list" }
  | { kind: "status"; id: string }
  | { kind: "cancel"; id: string }
  | { kind: "revoke"; id: string; reason?: string }
  | { kind: "extend"; id: string; durationSec: number; reason: string }
  | { kind: "audit"; window: AuditWindow }
  | { kind: "invalid"; message: string };

export type CommandKind = Exclude<ParsedCommand["kind"], "invalid">;
type Invalid = Extract<ParsedCommand, { kind: "invalid" }>;

interface CommandDoc {
  usage: string;
  example?: string;
  description: string;
}

/** One entry per command, in the order of the contract's table; the help text is built from it. */
const DOCS: Record<CommandKind, CommandDoc> = {
  help: { usage: "/jit help", description: "show this help" },
  "request-modal": { usage: "/jit request", description: "open a form to request access" },
  request: {
    usage: "/jit request <resource> <duration> <reason…>",
    example: "/jit request staging-db 1h fix migration",
    description: "request access; replies with the request id",
  },
  resources: {
    usage: "/jit resources",
    description: "the resources you may request, with their max durations",
  },
  list: {
    usage: "/jit list",
    description: "your pending requests and active grants, and requests awaiting your decision",
  },
  status: {
    usage: "/jit status <id>",
    example: "/jit status R-7KQ2",
    description: "one request or grant in full",
  },
  cancel: {
    usage: "/jit cancel <id>",
    example: "/jit cancel R-7KQ2",
    description: "withdraw your pending request",
  },
  revoke: {
    usage: "/jit revoke <id> [reason]",
    example: "/jit revoke R-7KQ2 done early",
    description: "end an active grant now (the grantee or an admin)",
  },
  extend: {
    usage: "/jit extend <id> <duration> <reason…>",
    example: "/jit extend R-7KQ2 30m migration still running",
    description:
      "ask your grant's approvers for more time (each at most the resource's max duration; a few times per grant)",
  },
  breakglass: {
    usage: "/jit breakglass <resource> <duration> <reason…>",
    example: "/jit breakglass prod-db 30m incident INC-42",
    description:
      "immediate access where the resource allows it (breakglass: true); alerts the audit and approvals channels and is reviewed by its approvers afterwards",
  },
  audit: {
    usage: "/jit audit [24h|7d|30d]",
    example: "/jit audit 7d",
    description: "audit summary for the window, 24h by default (admins)",
  },
};

/** The usage line for one command, with an example when it takes arguments. Plain text. */
export function usageFor(kind: CommandKind): string {
  const doc = DOCS[kind];
  return `Usage: \`${doc.usage}\`${doc.example ? ` — for example \`${doc.example}\`` : ""}`;
}

/**
 * The full help, in mrkdwn emphasis but with literal `<…>` placeholders: escape it with
 * `escapeMrkdwn` before sending, like every other text from the domain.
 */
export const USAGE: string = [
  "*jit* gives you access for a limited time, approved in Slack.",
  ...Object.values(DOCS).map(
    (d) => `• \`${d.usage}\` — ${d.description}${d.example ? ` (e.g. \`${d.example}\`)` : ""}`,
  ),
  "Durations look like 90s, 30m, 2h, 1h30m or 1d. Ids look like R-7KQ2. A reason is required (at most 1,000 characters).",
].join("\n");

/** Names typed after `/jit`, mapped to what they parse as. */
const SUBCOMMANDS = [
  "help",
  "request",
  "resources",
  "list",
  "status",
  "cancel",
  "revoke",
  "extend",
  "breakglass",
  "audit",
] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

interface Token {
  value: string;
  start: number;
}

/**
 * Parses the text Slack sends for `/jit` (already HTML-escaped by Slack: `&amp;`, `&lt;`, `&gt;`).
 * Subcommands are case-insensitive; arguments are separated by any run of whitespace, including
 * newlines and non-breaking spaces; the reason keeps its inner spacing.
 */
export function parseCommand(slackText: string): ParsedCommand {
  const text = unescapeMrkdwn(slackText);
  const tokens = tokenize(text, 5);
  const head = tokens[0];
  if (head === undefined) return { kind: "help" };
  const name = asciiLower(head.value);
  if (!isSubcommand(name)) return unknownCommand(head.value);
  const args = tokens.slice(1);
  switch (name) {
    case "help":
      return { kind: "help" };
    case "resources":
    case "list":
      return args.length > 0 ? noArguments(name, text, args) : { kind: name };
    case "request":
      return args.length === 0 ? { kind: "request-modal" } : parseAccess("request", text, args);
    case "breakglass":
      return parseAccess("breakglass", text, args);
    case "status":
    case "cancel":
      return parseIdOnly(name, text, args);
    case "revoke":
      return parseRevoke(text, args);
    case "extend":
      return parseExtend(text, args);
    case "audit":
      return parseAudit(text, args);
  }
}

function parseAccess(kind: "request" | "breakglass", text: string, args: Token[]): ParsedCommand {
  const [resource, duration, reasonStart] = args;
  if (resource === undefined) return invalid(kind, "Missing the resource, the duration and the reason.");
  const resourceError = checkResourceId(resource.value);
  if (resourceError !== null) return invalid(kind, resourceError);
  if (duration === undefined) return invalid(kind, "Missing the duration and the reason.");
  const parsed = parseDuration(duration.value);
  if (!parsed.ok) return invalid(kind, `${parsed.error}.`);
  if (reasonStart === undefined) return invalid(kind, "Missing the reason: say why you need access.");
  const reason = rest(text, reasonStart);
  const reasonError = checkReason(reason);
  if (reasonError !== null) return invalid(kind, reasonError);
  return { kind, resource: resource.value, durationSec: parsed.seconds, reason };
}

function parseIdOnly(kind: "status" | "cancel", text: string, args: Token[]): ParsedCommand {
  const [idToken, extra] = args;
  if (idToken === undefined) return invalid(kind, "Missing the request id.");
  const id = readId(idToken.value);
  if (!id.ok) return invalid(kind, id.message);
  if (extra !== undefined) {
    return invalid(kind, `\`/jit ${kind}\` takes only a request id; remove ${quote(rest(text, extra))}.`);
  }
  return { kind, id: id.value };
}

function parseRevoke(text: string, args: Token[]): ParsedCommand {
  const [idToken, reasonStart] = args;
  if (idToken === undefined) return invalid("revoke", "Missing the request id.");
  const id = readId(idToken.value);
  if (!id.ok) return invalid("revoke", id.message);
  if (reasonStart === undefined) return { kind: "revoke", id: id.value };
  const reason = rest(text, reasonStart);
  const reasonError = checkReason(reason);
  if (reasonError !== null) return invalid("revoke", reasonError);
  return { kind: "revoke", id: id.value, reason };
}

function parseExtend(text: string, args: Token[]): ParsedCommand {
  const [idToken, duration, reasonStart] = args;
  if (idToken === undefined) return invalid("extend", "Missing the request id, the duration and the reason.");
  const id = readId(idToken.value);
  if (!id.ok) return invalid("extend", id.message);
  if (duration === undefined) return invalid("extend", "Missing the duration and the reason.");
  const parsed = parseDuration(duration.value);
  if (!parsed.ok) return invalid("extend", `${parsed.error}.`);
  if (reasonStart === undefined) return invalid("extend", "Missing the reason: say why you need more time.");
  const reason = rest(text, reasonStart);
  const reasonError = checkReason(reason);
  if (reasonError !== null) return invalid("extend", reasonError);
  return { kind: "extend", id: id.value, durationSec: parsed.seconds, reason };
}

function parseAudit(text: string, args: Token[]): ParsedCommand {
  const [windowToken, extra] = args;
  if (windowToken === undefined) return { kind: "audit", window: "24h" };
  if (extra !== undefined) {
    return invalid("audit", `\`/jit audit\` takes at most a window; remove ${quote(rest(text, extra))}.`);
  }
  // Accept any spelling of the same length of time (`1d`, `168h`, `30D`), then name it canonically.
  const parsed = parseDuration(windowToken.value);
  const window = parsed.ok ? AUDIT_WINDOWS.find((w) => windowSeconds(w) === parsed.seconds) : undefined;
  if (window === undefined) {
    return invalid("audit", `${quote(windowToken.value)} is not an audit window; choose 24h, 7d or 30d.`);
  }
  return { kind: "audit", window };
}

function windowSeconds(window: AuditWindow): number {
  const parsed = parseDuration(window);
  return parsed.ok ? parsed.seconds : Number.NaN;
}

function noArguments(kind: "resources" | "list", text: string, args: Token[]): Invalid {
  const first = args[0] as Token;
  return invalid(kind, `\`/jit ${kind}\` takes no arguments; remove ${quote(rest(text, first))}.`);
}

/** A message when the text is not a valid resource id, else null. */
export function checkResourceId(text: string): string | null {
  if (RESOURCE_ID_PATTERN.test(text)) return null;
  const lower = asciiLower(text);
  if (RESOURCE_ID_PATTERN.test(lower)) {
    return `${quote(text)} is not a resource id; resource ids are lower case — did you mean ${lower}?`;
  }
  return (
    `${quote(text)} is not a resource id; resource ids are up to 63 lower-case letters, digits, ".", "_" ` +
    'or "-", starting with a letter or digit, like staging-db. `/jit resources` lists the ones you may request.'
  );
}

/** A message when the reason is empty or too long, else null. Counts characters, not UTF-16 units. */
export function checkReason(reason: string): string | null {
  if (reason.trim() === "") return "Missing the reason.";
  let length = 0;
  for (const _ of reason) length++;
  if (length > MAX_REASON_LENGTH) {
    return `The reason is ${length.toLocaleString("en-US")} characters long; keep it to 1,000 or fewer.`;
  }
  return null;
}

function readId(text: string): { ok: true; value: string } | { ok: false; message: string } {
  const id = normalizeRequestId(text);
  if (id !== null) return { ok: true, value: id };
  const asRequest = `R-${text.slice(2)}`;
  if (/^g-/i.test(text) && isRequestId(asRequest)) {
    return {
      ok: false,
      message: `${quote(text)} is a grant id; use its request id, ${normalizeRequestId(asRequest)}.`,
    };
  }
  return { ok: false, message: `${quote(text)} is not a request id; ids look like R-7KQ2.` };
}

function unknownCommand(word: string): Invalid {
  const suggestion = suggest(word);
  const hint = suggestion === null ? "" : ` Did you mean \`${suggestion}\`?`;
  return {
    kind: "invalid",
    message: `${quote(word)} is not a /jit command.${hint}\n\n${USAGE}`,
  };
}

/** A likely intended command for a typo, or for an id typed on its own. */
function suggest(word: string): string | null {
  const id = normalizeRequestId(word);
  if (id !== null) return `/jit status ${id}`;
  if (word.length > 20) return null;
  const lower = asciiLower(word);
  let best: { name: Subcommand; distance: number } | null = null;
  for (const name of SUBCOMMANDS) {
    const distance = editDistance(lower, name);
    if (distance <= 2 && (best === null || distance < best.distance)) best = { name, distance };
  }
  return best === null ? null : `/jit ${best.name}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function invalid(kind: CommandKind, problem: string): Invalid {
  return { kind: "invalid", message: `${problem}\n${usageFor(kind)}` };
}

/** The first `limit` whitespace-separated words with their offsets; JS `\s` covers NBSP and newlines. */
function tokenize(text: string, limit: number): Token[] {
  const tokens: Token[] = [];
  const word = /\S+/g;
  for (let m = word.exec(text); m !== null && tokens.length < limit; m = word.exec(text)) {
    tokens.push({ value: m[0], start: m.index });
  }
  return tokens;
}

/** Everything from a token to the end, with the user's own spacing inside kept. */
function rest(text: string, from: Token): string {
  return text.slice(from.start).trim();
}

/** Lower-cases A–Z only, so Unicode case folding (e.g. the Kelvin sign "K") cannot forge a command. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function isSubcommand(name: string): name is Subcommand {
  return (SUBCOMMANDS as readonly string[]).includes(name);
}
