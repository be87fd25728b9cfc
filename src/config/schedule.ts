import { CronExpressionParser } from "cron-parser";

/**
 * Checks for `audit.timezone` and `audit.schedule`, run when the policy is loaded so a typo stops
 * jit at start (with its path in the file) instead of silently never posting. The cron dialect is
 * the one BullMQ's job schedulers run (cron-parser): 5 fields, or 6 with seconds first.
 */

/** Why `zone` is not an IANA time zone name this Node.js knows, or null. */
export function timeZoneProblem(zone: string): string | null {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return null;
  } catch {
    return `"${zone}" is not a time zone; use an IANA name like UTC, Europe/Paris or America/New_York`;
  }
}

/** Why `pattern` is not a cron expression, or null. */
export function cronProblem(pattern: string): string | null {
  try {
    CronExpressionParser.parse(pattern, { tz: "UTC" }).next();
    return null;
  } catch (error) {
    return (
      `"${pattern}" is not a cron expression (${(error as Error).message}); ` +
      'write 5 fields, minute hour day month weekday, like "0 9 * * 1-5" (09:00 on weekdays)'
    );
  }
}
