import { type LifecycleEvent, TRANSITIONS } from "../domain/lifecycle.js";
import { appendAudit, appendAuditMany } from "../store/audit.js";
import type { Prisma } from "../store/db.js";

type Tx = Prisma.TransactionClient;

/**
 * Applies one lifecycle event as a conditional update and records it in the audit chain, in the
 * caller's transaction. Returns false (and changes nothing) when the request was not in a state the
 * event applies to: that is how retries, double clicks and replicas racing each other stay harmless.
 */
export async function transition(
  tx: Tx,
  request: { id: string; resourceId: string },
  event: LifecycleEvent,
  actor: string,
  details: Record<string, unknown> = {},
): Promise<boolean> {
  const { from, to } = TRANSITIONS[event];
  // Raw SQL on this hot path: one statement, no query planning in the ORM. Timestamps are UTC, as
  // Prisma stores them.
  const count = await tx.$executeRaw`
    UPDATE "AccessRequest"
    SET status = ${to}::"RequestStatus", "updatedAt" = (now() AT TIME ZONE 'UTC')
    WHERE id = ${request.id} AND status::text = ANY(${[...from]})`;
  if (count === 0) return false;
  await appendAudit(tx, {
    actor,
    action: `request.${to.toLowerCase()}`,
    requestId: request.id,
    resourceId: request.resourceId,
    details,
  });
  return true;
}

export interface TransitionItem {
  request: { id: string; resourceId: string };
  event: LifecycleEvent;
  actor: string;
  details?: Record<string, unknown>;
}

/**
 * `transition` for many requests at once (a revocation sweep): one conditional update per kind of
 * event and one audit append for all. Returns the ids that moved.
 */
export async function transitionMany(tx: Tx, items: TransitionItem[]): Promise<Set<string>> {
  const moved = new Set<string>();
  for (const event of new Set(items.map((item) => item.event))) {
    const { from, to } = TRANSITIONS[event];
    const ids = items.filter((item) => item.event === event).map((item) => item.request.id);
    const rows = await tx.$queryRaw<{ id: string }[]>`
      UPDATE "AccessRequest"
      SET status = ${to}::"RequestStatus", "updatedAt" = (now() AT TIME ZONE 'UTC')
      WHERE id = ANY(${ids}) AND status::text = ANY(${[...from]})
      RETURNING id`;
    for (const row of rows) moved.add(row.id);
  }
  await appendAuditMany(
    tx,
    items
      .filter((item) => moved.has(item.request.id))
      .map((item) => ({
        actor: item.actor,
        action: `request.${TRANSITIONS[item.event].to.toLowerCase()}`,
        requestId: item.request.id,
        resourceId: item.request.resourceId,
        details: item.details ?? {},
      })),
  );
  return moved;
}
