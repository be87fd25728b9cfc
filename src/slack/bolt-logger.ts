import { type Logger as BoltLogger, LogLevel } from "@slack/bolt";
import type { Logger } from "../log.js";

/**
 * What a library line may never carry: Slack tokens, credentials inside URLs, and the values of
 * fields that hold message text or secrets (in JSON, `key=value` or `key: value` form).
 */
const SCRUBS: [RegExp, string][] = [
  [/\bx(?:ox[a-z]|app)-[A-Za-z0-9-]+/g, "[redacted token]"],
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, "$1[redacted]@"],
  [
    /(["']?\b(?:text|password|passwd|secret|token|authorization|url)\b["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,}]+)/gi,
    "$1[redacted]",
  ],
];

/** Removes anything that could be a secret or user content from a library's log line. */
export function scrubLibraryLine(line: string): string {
  return SCRUBS.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), line);
}

const line = (msg: unknown[]) => scrubLibraryLine(msg.map(String).join(" "));

/**
 * Routes Bolt's and the Web API client's own logging into our structured log. Their debug output
 * is dropped at every LOG_LEVEL: it holds whole request and response bodies (a credentials DM, a
 * submitted modal) that no scrubbing can be trusted to clean. What they say at info and above is
 * short and fixed, and is scrubbed all the same.
 */
export function boltLogger(logger: Logger): BoltLogger {
  const child = logger.child({ component: "bolt" });
  let level = LogLevel.INFO;
  return {
    debug: () => undefined,
    info: (...msg) => child.info(line(msg)),
    warn: (...msg) => child.warn(line(msg)),
    error: (...msg) => child.error(line(msg)),
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
