import { enqueueCardSync, ensureGrantJob, scheduleRevoke } from "../jobs/schedule.js";
import type { Deps } from "./deps.js";
import { reconcileExtensions } from "./extension-followups.js";
import { failLateGrant, grantDeadline } from "./grant.js";
import { repairFollowUps } from "./repair-follow-ups.js";
import { runTimeout } from "./timeout.js";

const STALE_MS = 30_000;

/**
 * The safety net behind every scheduled job. PostgreSQL says what must be true; this makes sure a
 * job exists for it, so a flushed Redis, a crashed worker or a lost enqueue cannot leave access
 * behind or a request hanging. Everything it does is idempotent.
 */
export async function reconcile(
  deps: Deps,
): Promise<{ revoking: number; active: number; regranting: number }> {
  const now = new Date();
  const stale = new Date(now.getTime() - STALE_MS);
  const open = await deps.db.grant.findMany({
    where: { endedAt: null },
    select: {
      id: true,
      expiresAt: true,
      revokeRequestedAt: true,
      createdAt: true,
      request: { select: { status: true, updatedAt: true } },
    },
  });
  let revoking = 0;
  let regranting = 0;
  for (const grant of open) {
    const due =
      grant.revokeRequestedAt !== null ||
      grant.request.status === "FAILED" ||
      (grant.expiresAt !== null && grant.expiresAt <= now);
    if (due) {
      revoking++;
      await scheduleRevoke(deps.queue, grant.id, "now", { keepBackoff: true });
      continue;
    }
    // Only grants expiring soon need their job checked now; the others are checked in a later pass.
    const soon = now.getTime() + 2 * deps.tuning.reconcileEveryMs;
    if (grant.expiresAt && grant.expiresAt.getTime() <= soon) {
      await scheduleRevoke(deps.queue, grant.id, grant.expiresAt);
    }
    if (grant.request.status === "APPROVED" && grantDeadline(deps, grant.createdAt) <= now) {
      await failLateGrant(deps, grant.id);
    } else if (grant.request.status === "APPROVED" && grant.request.updatedAt < stale) {
      regranting++;
      await ensureGrantJob(deps.queue, grant.id);
    }
  }
  deps.metrics.activeGrants.set(open.length - revoking);
  await sweepEnded(deps, new Set(open.map((grant) => grant.id)));

  const overdue = await deps.db.accessRequest.findMany({
    where: { status: "PENDING", timeoutAt: { lte: now } },
    select: { id: true },
  });
  for (const request of overdue) await runTimeout(deps, request.id);

  const unposted = await deps.db.accessRequest.findMany({
    where: { status: "PENDING", createdAt: { lt: stale }, cards: { none: {} } },
    select: { id: true },
  });
  for (const request of unposted) await enqueueCardSync(deps.queue, request.id);
  await repairFollowUps(deps);
  await reconcileExtensions(deps, stale);
  return { revoking, active: open.length - revoking, regranting };
}

/**
 * Asks every provider that can list what it made (kubernetes' labelled bindings) to remove what
 * belongs to no live grant. Objects younger than sweepMinAgeMs are left alone: one made between
 * our read of the live grants and the provider's listing must not be taken for a leftover.
 */
async function sweepEnded(deps: Deps, live: ReadonlySet<string>): Promise<void> {
  for (const resource of deps.policy.resources) {
    const provider = deps.providers.forResource(resource.id);
    if (!provider.sweep) continue;
    try {
      const swept = await provider.sweep(live, { minAgeMs: deps.tuning.sweepMinAgeMs });
      if (swept.length > 0)
        deps.logger.info({ resource: resource.id, swept }, "removed access of ended grants");
    } catch (error) {
      deps.logger.warn(
        { resource: resource.id, err: (error as Error).message },
        "could not sweep ended grants",
      );
    }
  }
}
