import { type Logger as BoltLogger, LogLevel } from "@slack/bolt";
import { type Logger, scrubSecrets } from "../log.js";

const line = (msg: unknown[]) => scrubSecrets(msg.map(String).join(" "));

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
