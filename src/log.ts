import { pino } from "pino";

/**
 * Structured JSON logs. Redaction is a safety net, not the plan: secrets are never passed to the
 * logger in the first place; these paths catch the fields where a library might put one.
 */
export function createLogger(level = "info") {
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
    // Asynchronous writes: a log line must not block the event loop on the path of a Slack ack.
    pino.destination({ sync: false }),
  );
}

export type Logger = ReturnType<typeof createLogger>;
