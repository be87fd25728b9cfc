import { grantIdFor } from "../domain/ids.js";
import { tally } from "../domain/lifecycle.js";
import { enqueueCardSync, enqueueGrant, enqueueNotify } from "../jobs/schedule.js";
import { appendAudit } from "../store/audit.js";
import type { Deps } from "./deps.js";
import { recordRefusal } from "./refusals.js";
import { type Outcome, ok, refuse } from "./result.js";
import { transition } from "./transition.js";

export interface DecisionInput {
  requestId: string;
  approverId: string;
  outcome: "APPROVE" | "DENY";
}

/**
 * An approver's click. The request row is locked for the decision, so concurrent clicks are applied
 * one after another; a repeated click by the same person is absorbed by the unique vote key; and a
 * click after the outcome is known changes nothing. Refused clicks are audited (repeats counted).
 */
export async function decide(deps: Deps, input: DecisionInput): Promise<Outcome> {
  const request = await deps.db.accessRequest.findUnique({ where: { id: input.requestId } });
  if (!request) return refuse(`There is no request ${input.requestId}.`);
  const resource = deps.access.resource(request.resourceId);
  const refusal = resource
    ? await deps.access.refusalToDecide(resource, input.approverId, request.requesterId)
    : `${request.resourceId} is no longer in the policy file`;
  if (refusal) {
    await recordRefusal(deps.db, {
      actor: input.approverId,
      action: "decision.rejected",
      requestId: request.id,
      resourceId: request.resourceId,
      reason: refusal,
      details: { outcome: input.outcome },
    });
    return refuse(
      `Your ${input.outcome === "APPROVE" ? "approval" : "denial"} of ${request.id} was refused: ${refusal}.`,
    );
  }

  const result = await deps.db.$transaction(async (tx) => {
    const [locked] = await tx.$queryRaw<{ status: string }[]>`
      SELECT status::text AS status FROM "AccessRequest" WHERE id = ${request.id} FOR UPDATE`;
    if (locked?.status !== "PENDING") return { kind: "closed" as const, status: locked?.status ?? "gone" };
    const vote = await tx.decision.createMany({
      data: [{ requestId: request.id, approverId: input.approverId, outcome: input.outcome }],
      skipDuplicates: true,
    });
    if (vote.count === 0) return { kind: "repeat" as const };
    const votes = await tx.decision.findMany({ where: { requestId: request.id } });
    const verdict = tally(votes, request.requiredApprovals);
    if (verdict === "approved") {
      await tx.grant.create({
        data: { id: grantIdFor(request.id), requestId: request.id, resourceId: request.resourceId },
      });
    }
    // Audit appends last: they hold the chain's head until commit.
    await appendAudit(tx, {
      actor: input.approverId,
      action: input.outcome === "APPROVE" ? "decision.approve" : "decision.deny",
      requestId: request.id,
      resourceId: request.resourceId,
    });
    if (verdict === "denied") await transition(tx, request, "deny", input.approverId);
    if (verdict === "approved") {
      await transition(tx, request, "approve", input.approverId, {
        approvers: votes.filter((v) => v.outcome === "APPROVE").map((v) => v.approverId),
      });
    }
    return { kind: "counted" as const, verdict };
  });

  if (result.kind === "closed") {
    return refuse(
      `${request.id} is already ${result.status.toLowerCase().replace("_", " ")}; nothing changed.`,
    );
  }
  if (result.kind === "repeat") return ok(`You already voted on ${request.id}; your vote counts once.`);
  if (result.verdict !== "pending") deps.metrics.transitions.inc({ status: result.verdict });
  const followUps: Promise<unknown>[] = [enqueueCardSync(deps.queue, request.id)];
  if (result.verdict === "approved") followUps.push(enqueueGrant(deps.queue, grantIdFor(request.id)));
  if (result.verdict === "denied") followUps.push(enqueueNotify(deps.queue, request.id, "denied"));
  await Promise.all(followUps).catch((error) =>
    deps.logger.error(
      { err: error, requestId: request.id },
      "could not enqueue follow-ups; the reconciler will",
    ),
  );
  const verb = input.outcome === "APPROVE" ? "approved" : "denied";
  const state =
    result.verdict === "pending"
      ? "It needs more approvals."
      : result.verdict === "approved"
        ? "Access is being granted."
        : "The request is closed.";
  return ok(`You ${verb} ${request.id}. ${state}`, request.id);
}
