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
