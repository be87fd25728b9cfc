import { type DestinationStream, pino } from "pino";

/**
 * Structured JSON logs. Redaction is a safety net, not the plan: secrets are never passed to the
 * logger in the first place; these paths catch the fields where a library might put one.
 */
export function createLogger(
  level = "info",
  // Asynchronous writes: a log line must not block the event loop on the path of a Slack ack.
  // Tests pass their own stream to read what would have been logged.
  destination: DestinationStream = pino.destination({ sync: false }),
) {
  return pino(
    {
      level,
      base: { service: "jit" },
      redact: {
        paths: [
          "token",
          "*.token",
          "password",
          "*.password",
          "secret",
          "*.secret",
          "secrets",
          "*.secrets",
          "headers.authorization",
          "*.headers.authorization",
          "url",
          "*.url",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}

export type Logger = ReturnType<typeof createLogger>;

/**
 * What a log line built from someone else's text (a library's message, a driver's error) may never
 * carry: Slack tokens, credentials inside URLs, and the values of fields that hold message text or
 * secrets (in JSON, `key=value` or `key: value` form).
 */
const SCRUBS: [RegExp, string][] = [
  [/\bx(?:ox[a-z]|app)-[A-Za-z0-9-]+/g, "[redacted token]"],
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, "$1[redacted]@"],
  [
    /(["']?\b(?:text|password|passwd|secret|token|authorization|url)\b["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,}]+)/gi,
    "$1[redacted]",
  ],
];

/** Removes anything that could be a secret or user content from text we did not write. */
export function scrubSecrets(text: string): string {
  return SCRUBS.reduce((line, [pattern, replacement]) => line.replace(pattern, replacement), text);
}

/** Logs a repeating failure at most once per `everyMs` (a down dependency fails every attempt). */
export function throttledWarn(logger: Logger, message: string, everyMs = 10_000) {
  let last = 0;
  return (fields: Record<string, unknown>) => {
    if (Date.now() - last < everyMs) return;
    last = Date.now();
    logger.warn(fields, message);
  };
}
