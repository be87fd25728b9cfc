import { appendAudit } from "../store/audit.js";
import type { Db, Prisma } from "../store/db.js";

/**
 * Refused actions are audited, but a person clicking a button they may not use a hundred times
 * must not write a hundred events: audit events are hash-chained and never updated, so a flood
 * would grow the chain without bound. Each refusal is counted in place in `RefusalCount`, keyed
 * by (actor, action, subject, reason); the chain records the 1st, 10th, 100th, 1000th… repeat,
 * so it stays tamper-evident about floods (to an order of magnitude) while growing only with
 * their logarithm.
 */
export interface RefusalInput {
  actor: string;
  /** e.g. `decision.rejected`, `cancel.rejected`. */
  action: string;
  requestId?: string;
  resourceId: string;
  /** jit's own words, never user text: it is part of the counter's key. */
  reason: string;
  details?: Record<string, unknown>;
}

/** True for the repeats that go into the audit chain: 1, 10, 100, 1000, … */
export function isAuditedRepeat(count: number): boolean {
  let n = count;
  while (n >= 10 && n % 10 === 0) n /= 10;
  return n === 1;
}

/** Counts one refusal and audits it when it is a first (or 10th, 100th, …); returns the count. */
export async function recordRefusal(db: Db, refusal: RefusalInput): Promise<number> {
  const subject = refusal.requestId ?? refusal.resourceId;
  return db.$transaction(async (tx: Prisma.TransactionClient) => {
    // One statement: concurrent repeats serialize on the row, so exactly one of them sees count 1.
    const [row] = await tx.$queryRaw<{ count: number }[]>`
      INSERT INTO "RefusalCount" (actor, action, subject, reason, count, "firstAt", "lastAt")
      VALUES (${refusal.actor}, ${refusal.action}, ${subject}, ${refusal.reason}, 1,
              now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
      ON CONFLICT (actor, action, subject, reason)
      DO UPDATE SET count = "RefusalCount".count + 1, "lastAt" = EXCLUDED."lastAt"
      RETURNING count`;
    const count = row?.count ?? 1;
    if (isAuditedRepeat(count)) {
      await appendAudit(tx, {
        actor: refusal.actor,
        action: refusal.action,
        requestId: refusal.requestId ?? null,
        resourceId: refusal.resourceId,
        details: { ...refusal.details, reason: refusal.reason, ...(count > 1 ? { repeats: count } : {}) },
      });
    }
    return count;
  });
}

/** Every refusal counted against one request, most repeated first (for `/jit status`). */
export function refusalsOf(db: Db, requestId: string) {
  return db.refusalCount.findMany({
    where: { subject: requestId },
    orderBy: [{ count: "desc" }, { firstAt: "asc" }],
    take: 10,
  });
}
