import type { Resource } from "../config/policy.js";
import { formatDuration } from "../domain/duration.js";
import { grantIdFor, newRequestId } from "../domain/ids.js";
import { enqueueCardSync, enqueueGrant, scheduleBreakglassAlert } from "../jobs/schedule.js";
import { type BreakglassAlertKind, breakglassAlert } from "../slack/breakglass-views.js";
import { appendAudit } from "../store/audit.js";
import type { Deps } from "./deps.js";
import { recordRefusal } from "./refusals.js";
import { type AccessRequestInput, checkRequest } from "./request-access.js";
import { type Outcome, ok, refuse } from "./result.js";
import { transition } from "./transition.js";
import { endGrantNow } from "./withdraw.js";

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === "P2002";

/**
 * `/jit breakglass`: access at once, without approval, where the resource allows it — and loudly:
 * an alert in the audit and approvals channels, a review card to the approvers, and the alert again
 * every `breakglassReview` until someone reviews it. Refused (audited, nothing granted) elsewhere.
 */
export async function useBreakglass(deps: Deps, input: AccessRequestInput): Promise<Outcome> {
  const refused = async (reason: string, message: string) => {
    await recordRefusal(deps.db, {
      actor: input.requesterId,
      action: "breakglass.rejected",
      resourceId: input.resourceId,
      reason,
      details: { durationSec: input.durationSec },
    });
    return refuse(message);
  };
  const problem = await checkRequest(deps, input);
  if (problem) {
    const why =
      problem.forbidden ?? (problem.field === "resource" ? "no such resource" : "duration out of bounds");
    return refused(why, problem.message);
  }
  const resource = deps.access.resource(input.resourceId) as Resource;
  if (!resource.breakglass) {
    return refused(
      "the resource does not allow break-glass",
      `${resource.id} does not allow break-glass access; ask for it with \`/jit request ${resource.id} <duration> <reason…>\`.`,
    );
  }
  let id: string | undefined;
  for (let attempt = 0; !id; attempt++) {
    const candidate = newRequestId(attempt < 3 ? 4 : 6);
    try {
      await record(deps, input, resource, candidate);
      id = candidate;
    } catch (error) {
      if (!isUniqueViolation(error) || attempt >= 10) throw error;
    }
  }
  deps.metrics.transitions.inc({ status: "approved" });
  await Promise.all([
    enqueueGrant(deps.queue, grantIdFor(id)),
    enqueueCardSync(deps.queue, id),
    scheduleBreakglassAlert(deps.queue, id, "used", 0, new Date()),
  ]).catch((error) =>
    deps.logger.error(
      { err: error, requestId: id },
      "could not enqueue break-glass follow-ups; the reconciler grants",
    ),
  );
  return ok(
    `Break-glass: access to ${resource.id} for ${formatDuration(input.durationSec)} as ${id}, without approval; ` +
      "I will DM you the details. The approvers and the audit channel have been alerted, and it will be reviewed.",
    id,
  );
}

/** The request, approved at once, and its grant, in one transaction, with every step audited. */
async function record(deps: Deps, input: AccessRequestInput, resource: Resource, id: string): Promise<void> {
  await deps.db.$transaction(async (tx) => {
    const now = new Date();
    await tx.accessRequest.create({
      data: {
        id,
        requesterId: input.requesterId,
        resourceId: resource.id,
        durationSec: input.durationSec,
        reason: input.reason,
        requiredApprovals: 0,
        breakglass: true,
        timeoutAt: now,
      },
    });
    await tx.grant.create({ data: { id: grantIdFor(id), requestId: id, resourceId: resource.id } });
    const details = { durationSec: input.durationSec, reason: input.reason, breakglass: true };
    await appendAudit(tx, {
      actor: input.requesterId,
      action: "request.created",
      requestId: id,
      resourceId: resource.id,
      details,
    });
    await appendAudit(tx, {
      actor: input.requesterId,
      action: "breakglass.used",
      requestId: id,
      resourceId: resource.id,
      details,
    });
    await transition(tx, { id, resourceId: resource.id }, "approve", input.requesterId, { breakglass: true });
  });
}

export type ReviewOutcome = "acknowledged" | "flagged";

/**
 * An approver's review of a break-glass use: any approver but the requester; the first review
 * settles it (a conditional update), later clicks are told who was first. Flag ends the grant now
 * and alerts the audit channel again.
 */
export async function reviewBreakglass(
  deps: Deps,
  input: { requestId: string; reviewerId: string; outcome: ReviewOutcome },
): Promise<Outcome> {
  const { requestId, reviewerId, outcome } = input;
  const request = await deps.db.accessRequest.findUnique({
    where: { id: requestId },
    include: { grant: true },
  });
  if (!request?.breakglass) return refuse(`There is no break-glass use ${requestId}.`);
  const resource = deps.access.resource(request.resourceId);
  const refusal =
    reviewerId === request.requesterId
      ? "you cannot review your own break-glass use"
      : resource && (await deps.access.approvers(resource)).has(reviewerId)
        ? null
        : `you are not an approver for ${request.resourceId}`;
  if (refusal) {
    await recordRefusal(deps.db, {
      actor: reviewerId,
      action: "breakglass.review-rejected",
      requestId,
      resourceId: request.resourceId,
      reason: refusal,
      details: { outcome },
    });
    return refuse(`Your review of ${requestId} was refused: ${refusal}.`);
  }
  const settled = await deps.db.$transaction(async (tx) => {
    const { count } = await tx.accessRequest.updateMany({
      where: { id: requestId, breakglass: true, reviewedAt: null },
      data: { reviewOutcome: outcome, reviewedBy: reviewerId, reviewedAt: new Date() },
    });
    if (count === 1) {
      await appendAudit(tx, {
        actor: reviewerId,
        action: `breakglass.${outcome}`,
        requestId,
        resourceId: request.resourceId,
      });
    }
    return count === 1;
  });
  if (!settled) {
    const current = await deps.db.accessRequest.findUnique({ where: { id: requestId } });
    return refuse(
      `${requestId} was already reviewed (${current?.reviewOutcome ?? "settled"}); nothing changed.`,
    );
  }
  const grant = request.grant;
  if (outcome === "flagged" && grant && !grant.endedAt) {
    await endGrantNow(
      deps,
      { grantId: grant.id, requestId, resourceId: request.resourceId },
      reviewerId,
      "flagged in the break-glass review",
    );
  }
  await Promise.all([
    enqueueCardSync(deps.queue, requestId),
    ...(outcome === "flagged"
      ? [scheduleBreakglassAlert(deps.queue, requestId, "flagged", 0, new Date())]
      : []),
  ]);
  return ok(
    outcome === "flagged"
      ? `You flagged break-glass ${requestId}; its access is being ended now and the audit channel alerted.`
      : `You acknowledged break-glass ${requestId}.`,
    requestId,
  );
}

/**
 * Posts a break-glass alert: its use (audit and approvals channels), a repeat while unreviewed
 * (the same, every `breakglassReview`), or a flag (audit channel). Each alert is one job with a
 * deterministic id, so replicas schedule each repeat once; a reviewed use is not repeated.
 */
export async function runBreakglassAlert(
  deps: Deps,
  requestId: string,
  kind: BreakglassAlertKind,
  n: number,
): Promise<void> {
  const request = await deps.db.accessRequest.findUnique({ where: { id: requestId } });
  if (!request?.breakglass) return;
  if (kind === "repeat" && request.reviewOutcome) return;
  const resource = deps.access.resource(request.resourceId);
  const approvers = resource
    ? [...(await deps.access.approvers(resource))].filter((a) => a !== request.requesterId)
    : [];
  const text = breakglassAlert(
    kind,
    { ...request, resourceName: resource?.name ?? request.resourceId },
    approvers.sort(),
    request.reviewedBy,
  );
  const channels = new Set(
    [deps.policy.audit.channel, kind === "flagged" ? undefined : deps.policy.approvalsChannel].filter(
      (c): c is string => Boolean(c),
    ),
  );
  for (const channel of channels) await deps.messenger.post(channel, text);
  if (kind !== "flagged") {
    const next = new Date(Date.now() + deps.policy.breakglassReview * 1000);
    await scheduleBreakglassAlert(deps.queue, requestId, "repeat", n + 1, next);
  }
}
