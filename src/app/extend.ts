import { checkDurationBounds, formatDuration } from "../domain/duration.js";
import { enqueueExtensionCards, scheduleExtensionTimeout } from "../jobs/schedule.js";
import { appendAudit } from "../store/audit.js";
import type { Deps } from "./deps.js";
import { recordRefusal } from "./refusals.js";
import { type Outcome, ok, refuse } from "./result.js";

/** A moment in plain text (outcome messages are escaped, so no Slack date token): 2026-11-30 05:12:03 UTC. */
export const utcTime = (date: Date) => `${date.toISOString().replace("T", " ").slice(0, 19)} UTC`;

export interface ExtensionInput {
  requesterId: string;
  requestId: string;
  durationSec: number;
  reason: string;
}

/** The id of a grant's `seq`th extension: the request's own id, numbered (R-7KQ2.1). */
export const extensionIdFor = (requestId: string, seq: number) => `${requestId}.${seq}`;

type Filing =
  | { kind: "created"; id: string; seq: number; applied: number }
  | { kind: "pending"; id: string }
  | { kind: "too-many"; applied: number }
  | { kind: "inactive" };

/**
 * `/jit extend` and the reminder's form: the grantee of an active grant asks for more time. The same
 * approvers decide by the same rules, on a card of its own (src/app/extension-decide.ts); nothing
 * about the grant changes until an approved extension is applied (src/app/extension-apply.ts).
 * Every refusal answers why, is audited (repeats counted) and changes nothing.
 */
export async function fileExtension(deps: Deps, input: ExtensionInput): Promise<Outcome> {
  const { requestId } = input;
  const request = await deps.db.accessRequest.findUnique({
    where: { id: requestId },
    include: { grant: true },
  });
  // The same answer for an unknown id and someone else's grant: a stranger learns nothing.
  const notYours = `You have no grant ${requestId}; only its grantee can extend it.`;
  if (!request) return refuse(notYours);
  const refused = async (reason: string, message: string, details: Record<string, unknown> = {}) => {
    await recordRefusal(deps.db, {
      actor: input.requesterId,
      action: "extend.rejected",
      requestId,
      resourceId: request.resourceId,
      reason,
      details: { durationSec: input.durationSec, ...details },
    });
    return refuse(message);
  };
  if (request.requesterId !== input.requesterId)
    return refused("only the grantee may extend a grant", notYours);
  const resource = deps.access.resource(request.resourceId);
  if (!resource) {
    return refused(
      "the resource is no longer in the policy",
      `${request.resourceId} is no longer in the policy file; ${requestId} cannot be extended.`,
    );
  }
  const grant = request.grant;
  const notActive = () =>
    refused(
      "the grant is not active",
      `${requestId} is ${request.status === "ACTIVE" ? "ending" : request.status.toLowerCase().replace("_", " ")}; only active access can be extended.`,
    );
  if (request.status !== "ACTIVE" || !grant?.expiresAt || grant.endedAt || grant.revokeRequestedAt) {
    return notActive();
  }
  const bounds = checkDurationBounds(
    input.durationSec,
    { min: deps.policy.minDuration, max: resource.maxDuration },
    resource.id,
  );
  if (bounds) {
    const tooLong = input.durationSec > resource.maxDuration;
    return refused(
      tooLong ? "the extension is longer than maxDuration" : "the extension is shorter than minDuration",
      `${bounds}; each extension is at most ${formatDuration(resource.maxDuration)}. Nothing was changed.`,
    );
  }

  // Not after the grant ends: an extension nobody decided on before then has nothing left to extend.
  const timeoutAt = new Date(
    Math.min(Date.now() + deps.policy.requestTimeout * 1000, grant.expiresAt.getTime()),
  );
  const filing = await deps.db.$transaction(async (tx): Promise<Filing> => {
    // The grant's row lock makes "one pending extension per grant" hold across replicas and
    // repeated commands: the second filer waits, then sees the first one's row.
    const [live] = await tx.$queryRaw<{ live: boolean }[]>`
      SELECT "endedAt" IS NULL AND "revokeRequestedAt" IS NULL AND "expiresAt" > (now() AT TIME ZONE 'UTC') AS live
      FROM "Grant" WHERE id = ${grant.id} FOR UPDATE`;
    if (!live?.live) return { kind: "inactive" };
    const earlier = await tx.extension.findMany({
      where: { grantId: grant.id },
      select: { id: true, seq: true, status: true },
    });
    const open = earlier.find((e) => e.status === "PENDING" || e.status === "APPROVED");
    if (open) return { kind: "pending", id: open.id };
    const applied = earlier.filter((e) => e.status === "EXTENDED").length;
    if (applied >= resource.maxExtensions) return { kind: "too-many", applied };
    const seq = Math.max(0, ...earlier.map((e) => e.seq)) + 1;
    const id = extensionIdFor(requestId, seq);
    await tx.extension.create({
      data: {
        id,
        requestId,
        grantId: grant.id,
        seq,
        requesterId: input.requesterId,
        durationSec: input.durationSec,
        reason: input.reason,
        requiredApprovals: resource.requiredApprovals,
        timeoutAt,
      },
    });
    await appendAudit(tx, {
      actor: input.requesterId,
      action: "extension.requested",
      requestId,
      resourceId: resource.id,
      details: {
        extensionId: id,
        seq,
        durationSec: input.durationSec,
        reason: input.reason,
        timeoutAt: timeoutAt.toISOString(),
      },
    });
    return { kind: "created", id, seq, applied };
  });

  if (filing.kind === "inactive") return notActive();
  if (filing.kind === "pending") {
    return refused(
      "an extension is already pending",
      `An extension of ${requestId} is already waiting for approval; I will DM you when it is decided.`,
      { pending: filing.id },
    );
  }
  if (filing.kind === "too-many") {
    return refused(
      `at the limit of ${resource.maxExtensions} extensions`,
      `${requestId} has already been extended ${filing.applied} time(s), the most ${resource.id} allows. Request access again when it ends.`,
    );
  }
  // After commit. If Redis is briefly down the reconciler posts the cards and times it out.
  await Promise.all([
    scheduleExtensionTimeout(deps.queue, filing.id, timeoutAt),
    enqueueExtensionCards(deps.queue, filing.id),
  ]).catch((error) =>
    deps.logger.error(
      { err: error, requestId },
      "could not schedule the extension's jobs; the reconciler will",
    ),
  );
  return ok(
    `Asked the approvers to extend ${requestId} by ${formatDuration(input.durationSec)} ` +
      `(extension ${filing.applied + 1} of at most ${resource.maxExtensions}). ` +
      `Access still ends at ${utcTime(grant.expiresAt)} unless it is approved; I will DM you either way.`,
    requestId,
  );
}
