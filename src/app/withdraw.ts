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
  const marked = await deps.db.$transaction(async (tx) => {
    // A grant already past its expiry is being expired by its own job; marking it revoked as well
    // would record two endings for one grant.
    const { count } = await tx.grant.updateMany({
      where: {
        id: grant.id,
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
        requestId,
        resourceId: request.resourceId,
        details: { grantId: grant.id, reason: reason ?? null },
      });
    }
    return count === 1;
  });
  await scheduleRevoke(deps.queue, grant.id, "now");
  await enqueueCardSync(deps.queue, requestId);
  return ok(
    marked
      ? `Revoking ${requestId} now; I will confirm by DM.`
      : `${requestId} is already ending; I will confirm by DM.`,
    requestId,
  );
}
