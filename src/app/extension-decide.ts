import { tally } from "../domain/lifecycle.js";
import { enqueueExtend, enqueueExtensionCards, enqueueExtensionNotify } from "../jobs/schedule.js";
import { appendAudit } from "../store/audit.js";
import type { DecisionInput } from "./decide.js";
import type { Deps } from "./deps.js";
import { recordRefusal } from "./refusals.js";
import { type Outcome, ok, refuse } from "./result.js";

/**
 * An approver's click on an extension's card, by exactly the rules of `decide` (src/app/decide.ts):
 * the same approvers, no self-approval unless the resource allows it, one vote per person, any deny
 * ends it. The extension row is locked for the vote, so concurrent clicks and replicas count once.
 */
export async function decideExtension(
  deps: Deps,
  input: Omit<DecisionInput, "requestId"> & { extensionId: string },
): Promise<Outcome> {
  const extension = await deps.db.extension.findUnique({
    where: { id: input.extensionId },
    include: { grant: { select: { resourceId: true } } },
  });
  if (!extension) return refuse(`There is no extension ${input.extensionId}.`);
  const { requestId } = extension;
  const resourceId = extension.grant.resourceId;
  const what = `extension ${extension.seq} of ${requestId}`;
  const resource = deps.access.resource(resourceId);
  const refusal = resource
    ? await deps.access.refusalToDecide(resource, input.approverId, extension.requesterId)
    : `${resourceId} is no longer in the policy file`;
  if (refusal) {
    await recordRefusal(deps.db, {
      actor: input.approverId,
      action: "decision.rejected",
      requestId,
      resourceId,
      reason: refusal,
      details: { outcome: input.outcome, extensionId: extension.id },
    });
    return refuse(
      `Your ${input.outcome === "APPROVE" ? "approval" : "denial"} of ${what} was refused: ${refusal}.`,
    );
  }

  const result = await deps.db.$transaction(async (tx) => {
    const [locked] = await tx.$queryRaw<{ status: string }[]>`
      SELECT status::text AS status FROM "Extension" WHERE id = ${extension.id} FOR UPDATE`;
    if (locked?.status !== "PENDING") return { kind: "closed" as const, status: locked?.status ?? "gone" };
    const vote = await tx.extensionDecision.createMany({
      data: [{ extensionId: extension.id, approverId: input.approverId, outcome: input.outcome }],
      skipDuplicates: true,
    });
    if (vote.count === 0) return { kind: "repeat" as const };
    const votes = await tx.extensionDecision.findMany({ where: { extensionId: extension.id } });
    const verdict = tally(votes, extension.requiredApprovals);
    const audit = (action: string, details: Record<string, unknown> = {}) =>
      appendAudit(tx, {
        actor: input.approverId,
        action,
        requestId,
        resourceId,
        details: { extensionId: extension.id, ...details },
      });
    await audit(input.outcome === "APPROVE" ? "extension.decision.approve" : "extension.decision.deny");
    if (verdict !== "pending") {
      await tx.extension.update({
        where: { id: extension.id },
        data: { status: verdict === "approved" ? "APPROVED" : "DENIED" },
      });
      await audit(`extension.${verdict}`, {
        approvers: votes.filter((v) => v.outcome === "APPROVE").map((v) => v.approverId),
      });
    }
    return { kind: "counted" as const, verdict };
  });

  if (result.kind === "closed") {
    return refuse(
      `The ${what} is already ${result.status.toLowerCase().replace("_", " ")}; nothing changed.`,
    );
  }
  if (result.kind === "repeat") return ok(`You already voted on ${what}; your vote counts once.`);
  const followUps: Promise<unknown>[] = [enqueueExtensionCards(deps.queue, extension.id)];
  if (result.verdict === "approved") followUps.push(enqueueExtend(deps.queue, extension.id));
  if (result.verdict === "denied") followUps.push(enqueueExtensionNotify(deps.queue, extension.id, "denied"));
  await Promise.all(followUps).catch((error) =>
    deps.logger.error(
      { err: error, requestId },
      "could not enqueue extension follow-ups; the reconciler will",
    ),
  );
  const verb = input.outcome === "APPROVE" ? "approved" : "denied";
  const state =
    result.verdict === "pending"
      ? "It needs more approvals."
      : result.verdict === "approved"
        ? "Access is being extended."
        : "The grant keeps its expiry.";
  return ok(`You ${verb} ${what}. ${state}`, requestId);
}
