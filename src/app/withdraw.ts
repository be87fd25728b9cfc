import { GRANTED_STATES } from "../domain/lifecycle.js";
import { enqueueCardSync, scheduleRevoke } from "../jobs/schedule.js";
import { appendAudit } from "../store/audit.js";
import type { Deps } from "./deps.js";
import { recordRefusal } from "./refusals.js";
import { type Outcome, ok, refuse } from "./result.js";
import { transition } from "./transition.js";

/** `/jit cancel`: the requester withdraws a pending request. Anyone else is refused and audited. */
export async function cancelRequest(deps: Deps, userId: string, requestId: string): Promise<Outcome> {
  const request = await deps.db.accessRequest.findUnique({ where: { id: requestId } });
  if (!request) return refuse(`You have no request ${requestId}.`);
  if (request.requesterId !== userId) {
    await recordRefusal(deps.db, {
      actor: userId,
      action: "cancel.rejected",
      requestId,
      resourceId: request.resourceId,
      reason: "only the requester may cancel a request",
    });
    // The same answer as for an unknown id: a stranger learns nothing about someone else's request.
    return refuse(`You have no request ${requestId}.`);
  }
  const moved = await deps.db.$transaction((tx) => transition(tx, request, "cancel", userId));
  if (!moved)
    return refuse(
      `${requestId} is ${request.status.toLowerCase().replace("_", " ")}; only pending requests can be cancelled.`,
    );
  deps.metrics.transitions.inc({ status: "cancelled" });
  await enqueueCardSync(deps.queue, requestId);
  return ok(`Cancelled ${requestId}.`, requestId);
}

/** `/jit revoke`: the grantee or an admin ends a grant now. Anyone else is refused and audited. */
export async function revokeEarly(
  deps: Deps,
  userId: string,
  requestId: string,
  reason?: string,
): Promise<Outcome> {
  const request = await deps.db.accessRequest.findUnique({
    where: { id: requestId },
    include: { grant: true },
  });
  const refusal = `You have no grant ${requestId} (admins may revoke anyone's).`;
  if (!request) return refuse(refusal);
  if (request.requesterId !== userId && !deps.access.isAdmin(userId)) {
    await recordRefusal(deps.db, {
      actor: userId,
      action: "revoke.rejected",
      requestId,
      resourceId: request.resourceId,
      reason: "only the grantee or an admin may revoke a grant",
    });
    return refuse(refusal);
  }
  const grant = request.grant;
  if (!grant || grant.endedAt || !GRANTED_STATES.includes(request.status)) {
    return refuse(
      `${requestId} is ${request.status.toLowerCase().replace("_", " ")}; there is no active access to revoke.`,
    );
  }
  const marked = await endGrantNow(
    deps,
    { grantId: grant.id, requestId, resourceId: request.resourceId },
    userId,
    reason,
  );
  return ok(
    marked
      ? `Revoking ${requestId} now; I will confirm by DM.`
      : `${requestId} is already ending; I will confirm by DM.`,
    requestId,
  );
}

/**
 * Ends a grant now on someone's word (an early revoke, a flagged break-glass): marks it, then
 * schedules its revocation at once and updates its cards. Returns false when it was already ending
 * (or past its expiry, being expired by its own job); the revocation is scheduled either way.
 */
export async function endGrantNow(
  deps: Deps,
  target: { grantId: string; requestId: string; resourceId: string },
  userId: string,
  reason?: string,
): Promise<boolean> {
  const marked = await deps.db.$transaction(async (tx) => {
    // A grant already past its expiry is being expired by its own job; marking it revoked as well
    // would record two endings for one grant.
    const { count } = await tx.grant.updateMany({
      where: {
        id: target.grantId,
        endedAt: null,
        revokeRequestedAt: null,
        OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }],
      },
      data: { revokeRequestedAt: new Date(), revokeRequestedBy: userId, revokeReason: reason ?? null },
    });
    if (count === 1) {
      await appendAudit(tx, {
        actor: userId,
        action: "grant.revoke-requested",
        requestId: target.requestId,
        resourceId: target.resourceId,
        details: { grantId: target.grantId, reason: reason ?? null },
      });
    }
    return count === 1;
  });
  await scheduleRevoke(deps.queue, target.grantId, "now");
  await enqueueCardSync(deps.queue, target.requestId);
  return marked;
}
