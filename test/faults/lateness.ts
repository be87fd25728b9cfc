/**
 * "No access outlives its window", measured: how late each grant ended. A grant's window closes
 * at its expiry, or earlier when someone revoked it. It must end within NO_FAULT_LIMIT_MS of that;
 * a fault that kept jit from acting (recorded by the test when it clears) extends the limit to
 * AFTER_FAULT_LIMIT_MS after the fault cleared, never more.
 */
import type { Db } from "../../src/store/db.js";

/** A revoke job fires at the expiry; a second or two covers a slow provider call and a busy machine. */
export const NO_FAULT_LIMIT_MS = 5_000;
/** The issue of record: within a minute of the fault clearing (backoff ≤ 60 s, reconciler every 15 s). */
export const AFTER_FAULT_LIMIT_MS = 60_000;

interface GrantTimes {
  id: string;
  expiresAt: Date | null;
  revokeRequestedAt: Date | null;
  endedAt: Date | null;
}

/** When access should have ended: the expiry, or an earlier revoke; undefined if never granted. */
function windowEnd(grant: GrantTimes): number | undefined {
  const ends = [grant.expiresAt, grant.revokeRequestedAt].filter((d): d is Date => d !== null);
  return ends.length ? Math.min(...ends.map((d) => d.getTime())) : undefined;
}

/** The latest moment the grant may still be open. */
function deadline(closedAt: number, faultClearedAt: number | undefined): number {
  return Math.max(closedAt + NO_FAULT_LIMIT_MS, (faultClearedAt ?? -Infinity) + AFTER_FAULT_LIMIT_MS);
}

export interface Lateness {
  grantId: string;
  /** endedAt minus the window's end (negative: ended before it, e.g. a cancelled grant). */
  lateMs: number;
  /** How late this grant was allowed to be. */
  limitMs: number;
}

/**
 * Waits until every grant whose window has closed has ended, failing as soon as one is open past
 * its deadline or ended after it; resolves with the latest end (undefined when no window closed).
 */
export async function waitForWindowsToClose(
  db: Db,
  faultClearedAt: number | undefined,
): Promise<Lateness | undefined> {
  for (;;) {
    const now = Date.now();
    const grants = await db.grant.findMany({
      select: { id: true, expiresAt: true, revokeRequestedAt: true, endedAt: true },
    });
    const closed = grants.flatMap((grant) => {
      const closedAt = windowEnd(grant);
      return closedAt !== undefined && closedAt <= now ? [{ grant, closedAt }] : [];
    });
    const late: string[] = [];
    let open = 0;
    let worst: Lateness | undefined;
    for (const { grant, closedAt } of closed) {
      const limitMs = deadline(closedAt, faultClearedAt) - closedAt;
      const endedAt = grant.endedAt?.getTime();
      if (endedAt === undefined) {
        if (now - closedAt > limitMs)
          late.push(`${grant.id} still open ${now - closedAt} ms past its window`);
        open++;
        continue;
      }
      const lateMs = endedAt - closedAt;
      if (lateMs > limitMs) late.push(`${grant.id} ended ${lateMs} ms past its window`);
      if (!worst || lateMs > worst.lateMs) worst = { grantId: grant.id, lateMs, limitMs };
    }
    if (late.length)
      throw new Error(`access outlived its window: ${late.join("; ")}${limitNote(faultClearedAt)}`);
    if (open === 0) return worst;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function limitNote(faultClearedAt: number | undefined): string {
  const fault = faultClearedAt
    ? `, or ${AFTER_FAULT_LIMIT_MS} ms after the fault cleared at ${new Date(faultClearedAt).toISOString()}`
    : "";
  return ` (limit: ${NO_FAULT_LIMIT_MS} ms${fault})`;
}

/** The figure every fault test prints. */
export function describeLateness(worst: Lateness | undefined): string {
  return worst
    ? `max revocation lateness: ${worst.lateMs} ms (${worst.grantId}; limit ${worst.limitMs} ms)`
    : "max revocation lateness: no grant's window closed";
}
