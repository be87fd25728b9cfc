/**
 * Durations as people type them in Slack and in the policy file: `90s`, `30m`, `2h`, `1h30m`, `1d`.
 * Everything inside jit counts whole seconds; this module is the only place that reads or writes
 * the text form, so the command parser, the policy schema and every message agree on it.
 *
 * Messages returned here are plain text (they may quote what the user typed); escape them with
 * `escapeMrkdwn` before sending them to Slack.
 */
import { quote } from "./mrkdwn.js";

export const SECOND = 1;
export const MINUTE = 60;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Longest duration jit accepts anywhere. Anything longer is a typo, not a request. */
export const MAX_DURATION_SEC = 365 * DAY;

export type DurationResult = { ok: true; seconds: number } | { ok: false; error: string };

const UNITS = [
  ["d", DAY],
  ["h", HOUR],
  ["m", MINUTE],
  ["s", SECOND],
] as const;

const EXAMPLES = "90s, 30m, 2h, 1h30m or 1d";
/** No valid duration is this long; bounding the input keeps the regexes cheap on hostile text. */
const MAX_TEXT_LENGTH = 32;
const CANONICAL = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/i;
const GROUPS_ANY_ORDER = /^(?:\d+[dhms])+$/i;

/**
 * Parses a duration such as `1h30m` into seconds. Units go largest first, each at most once, with
 * no spaces between groups; case does not matter. Never throws: a bad input yields a message that
 * shows how to write it.
 */
export function parseDuration(text: string): DurationResult {
  const trimmed = text.trim();
  const fail = (error: string): DurationResult => ({ ok: false, error });
  if (trimmed === "") return fail(`A duration is missing; write it like ${EXAMPLES}`);
  const match = trimmed.length <= MAX_TEXT_LENGTH ? CANONICAL.exec(trimmed) : null;
  if (!match) {
    if (trimmed.length <= MAX_TEXT_LENGTH && /^\d+$/.test(trimmed)) {
      return fail(`${quote(trimmed)} needs a unit; write it like ${trimmed}m or ${trimmed}h`);
    }
    if (trimmed.length <= MAX_TEXT_LENGTH && GROUPS_ANY_ORDER.test(trimmed)) {
      return fail(`${quote(trimmed)} is not a duration; put the units largest first, each once, like 1h30m`);
    }
    return fail(`${quote(trimmed)} is not a duration; write it like ${EXAMPLES}`);
  }
  let seconds = 0;
  UNITS.forEach(([, size], i) => {
    const digits = match[i + 1];
    if (digits !== undefined) seconds += Number(digits) * size;
  });
  if (seconds === 0) return fail(`${quote(trimmed)} is zero; write a duration like ${EXAMPLES}`);
  if (seconds > MAX_DURATION_SEC) {
    return fail(`${quote(trimmed)} is too long; the longest duration jit accepts is 365d`);
  }
  return { ok: true, seconds };
}

/**
 * The canonical text for a number of seconds, largest units first and zero units left out
 * (5400 → `1h30m`, 86400 → `1d`, 90 → `1m30s`). `parseDuration` reads it back exactly.
 */
export function formatDuration(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new RangeError(`formatDuration needs a non-negative whole number of seconds, got ${seconds}`);
  }
  if (seconds === 0) return "0s";
  let rest = seconds;
  let out = "";
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) out += `${count}${unit}`;
    rest -= count * size;
  }
  return out;
}

export interface DurationBounds {
  /** Shortest allowed duration in seconds (the policy's `minDuration`). */
  min: number;
  /** Longest allowed duration in seconds (the resource's `maxDuration`). */
  max: number;
}

/**
 * Checks a parsed duration against the policy. Kept apart from parsing because the bounds depend
 * on the resource. Returns `null` when within bounds, otherwise a message that names the limit and,
 * when `label` (the resource id) is given, the resource it belongs to.
 */
export function checkDurationBounds(seconds: number, bounds: DurationBounds, label?: string): string | null {
  if (seconds < bounds.min) {
    return `${formatDuration(seconds)} is shorter than the minimum of ${formatDuration(bounds.min)}`;
  }
  if (seconds > bounds.max) {
    const where = label === undefined ? "" : ` for ${label}`;
    return `${formatDuration(seconds)} is longer than the ${formatDuration(bounds.max)} maximum${where}`;
  }
  return null;
}
