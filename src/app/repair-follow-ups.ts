import { grantIdFor } from "../domain/ids.js";
import { cardRepairJob, jobId, notifyJob, requeue } from "../jobs/schedule.js";
import type { Deps } from "./deps.js";
import { OUTCOME_EVENTS } from "./notify.js";

/** Requests repaired per kind per pass; the next pass takes the rest. */
const BATCH = 100;

/** States a request can still leave; a copy or a DM recorded in a final state cannot lag. */
const LIVE = ["PENDING", "APPROVED", "ACTIVE"];
const TOLD = Object.keys(OUTCOME_EVENTS) as (keyof typeof OUTCOME_EVENTS)[];

/**
 * The follow-ups of a state change (card updates, the requester's DM) are jobs enqueued after the
 * commit; a crash before the enqueue, a flushed Redis or a Slack outage longer than the jobs'
 * retries loses them. PostgreSQL records what each card copy shows and what the requester was
 * told, so this pass (part of the reconciler) finds what lags and queues it again. Changes younger
 * than two reconciler passes are left to the normal path.
 */
export async function repairFollowUps(deps: Deps): Promise<{ cards: number; notices: number }> {
  const settled = new Date(Date.now() - 2 * deps.tuning.reconcileEveryMs).toISOString();
  // Only copies recorded in a live state (or never recorded) can lag: the index on renderedStatus
  // keeps this to the live requests' copies, however long the history (0.4 ms at 800k copies).
  const cards = await deps.db.$queryRaw<{ requestId: string }[]>`
    SELECT DISTINCT c."requestId" FROM "CardMessage" c JOIN "AccessRequest" r ON r.id = c."requestId"
    WHERE (c."renderedStatus" IS NULL OR c."renderedStatus" = ANY(${LIVE}::"RequestStatus"[]))
      AND c."renderedStatus" IS DISTINCT FROM r.status
      AND r."updatedAt" < (${settled}::timestamptz AT TIME ZONE 'UTC')
    LIMIT ${BATCH}`;
  // Likewise for DMs, on the (notifiedStatus, status) index. Two branches, because cancelled
  // requests are never told anything and pile up with a NULL: as one OR, the planner scans the
  // table (57 ms at 200k requests, against 0.5 ms for this form).
  const untold = await deps.db.$queryRaw<{ id: string; status: keyof typeof OUTCOME_EVENTS }[]>`
    SELECT id, status::text AS status FROM "AccessRequest"
    WHERE "notifiedStatus" IS NULL AND status = ANY(${TOLD}::"RequestStatus"[])
      AND "updatedAt" < (${settled}::timestamptz AT TIME ZONE 'UTC')
    UNION ALL
    SELECT id, status::text AS status FROM "AccessRequest"
    WHERE "notifiedStatus" = ANY(${LIVE}::"RequestStatus"[]) AND status = ANY(${TOLD}::"RequestStatus"[])
      AND "notifiedStatus" IS DISTINCT FROM status
      AND "updatedAt" < (${settled}::timestamptz AT TIME ZONE 'UTC')
    LIMIT ${BATCH}`;
  let notices = 0;
  for (const { id, status } of untold) {
    // The granted DM is sent by the grant job right after activation: while that job runs, the DM
    // may still be on its way, and an "undelivered" notice now would be false.
    if (status === "ACTIVE" && (await isRunning(deps, jobId.grant(grantIdFor(id))))) continue;
    await repair(deps, id, () => requeue(deps.queue, notifyJob(id, OUTCOME_EVENTS[status])));
    notices++;
  }
  for (const { requestId } of cards) {
    await repair(deps, requestId, () => requeue(deps.queue, cardRepairJob(requestId)));
  }
  if (cards.length || notices) {
    deps.logger.warn(
      { cards: cards.map((c) => c.requestId), notices: untold.map((u) => u.id) },
      "repairing lost follow-ups: card updates and requester DMs",
    );
  }
  return { cards: cards.length, notices };
}

async function isRunning(deps: Deps, id: string): Promise<boolean> {
  const job = await deps.queue.getJob(id);
  return (await job?.getState()) === "active";
}

/** One request's repair failing (the job moved under us) must not stop the others; next pass retries. */
async function repair(deps: Deps, requestId: string, work: () => Promise<void>): Promise<void> {
  await work().catch((error: Error) =>
    deps.logger.warn({ err: error.message, requestId }, "could not queue a follow-up repair"),
  );
}
