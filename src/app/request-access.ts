import type { Resource } from "../config/policy.js";
import { checkDurationBounds, formatDuration } from "../domain/duration.js";
import { newRequestId } from "../domain/ids.js";
import { enqueueCardSync, scheduleTimeout } from "../jobs/schedule.js";
import { appendAudit } from "../store/audit.js";
import type { Deps } from "./deps.js";
import { missingIdentity } from "./provider-context.js";
import { recordRefusal } from "./refusals.js";
import { type Outcome, ok, refuse } from "./result.js";

export interface AccessRequestInput {
  requesterId: string;
  resourceId: string;
  durationSec: number;
  reason: string;
}

export interface Refusal {
  field: "resource" | "duration";
  message: string;
  /** Set when the person may not do this (rather than a typo): why, in jit's words. Audited. */
  forbidden?: string;
}

/** Checks a request against the policy; returns what is wrong and with which field, or null. */
export async function checkRequest(deps: Deps, input: AccessRequestInput): Promise<Refusal | null> {
  const resource = deps.access.resource(input.resourceId);
  const mine = await deps.access.requestable(input.requesterId);
  if (!resource) {
    const names = mine.map((r) => r.id).join(", ") || "none";
    return {
      field: "resource",
      message: `There is no resource "${input.resourceId}". Resources you may request: ${names}.`,
    };
  }
  if (!mine.includes(resource)) {
    return {
      field: "resource",
      message: `You may not request ${resource.id}; ask an admin if you need it.`,
      forbidden: "not one of the resource's requesters",
    };
  }
  const bounds = { min: deps.policy.minDuration, max: resource.maxDuration };
  const tooLong = checkDurationBounds(input.durationSec, bounds, resource.id);
  if (tooLong) return { field: "duration", message: tooLong };
  const missing = await missingIdentity(deps, input.requesterId, resource.id);
  if (!missing) return null;
  return {
    field: "resource",
    message:
      `${resource.id} is granted to your ${missing} identity, and jit does not know yours. ` +
      `Ask an admin to add \`identities: { ${input.requesterId}: { ${missing}: ${placeholder(missing)} } }\` ` +
      "to the policy, then request again.",
    forbidden: `no ${missing} identity`,
  };
}

/** What to write in the policy for an identity, in the words of its provider. */
function placeholder(identity: string): string {
  if (identity === "github") return "<login>";
  if (identity === "email") return "<e-mail address>";
  return `<${identity} user name>`;
}

/** Answers a refused request; a request by someone who may not make it is audited (repeats counted). */
export async function refuseRequest(
  deps: Deps,
  input: AccessRequestInput,
  refusal: Refusal,
): Promise<Outcome> {
  if (refusal.forbidden) {
    await recordRefusal(deps.db, {
      actor: input.requesterId,
      action: "request.rejected",
      resourceId: input.resourceId,
      reason: refusal.forbidden,
    });
  }
  return refuse(refusal.message);
}

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === "P2002";

type Filing =
  | { kind: "created"; id: string }
  | { kind: "duplicate"; id: string; durationSec: number }
  | { kind: "too-many"; pending: string[] };

/**
 * Records a request unless the person already has one pending for this resource (answered with
 * its id) or already has `maxPendingPerUser` pending. A per-person lock makes the check and the
 * insert one step, so two commands at once (two replicas, a redelivery) cannot both file.
 */
async function file(
  deps: Deps,
  input: AccessRequestInput,
  resource: Resource,
  id: string,
  timeoutAt: Date,
): Promise<Filing> {
  return deps.db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`requester:${input.requesterId}`}))`;
    const pending = await tx.accessRequest.findMany({
      where: { requesterId: input.requesterId, status: "PENDING" },
      select: { id: true, resourceId: true, durationSec: true },
      orderBy: { createdAt: "asc" },
    });
    const same = pending.find((p) => p.resourceId === resource.id);
    if (same) return { kind: "duplicate", id: same.id, durationSec: same.durationSec };
    if (pending.length >= deps.policy.maxPendingPerUser) {
      return { kind: "too-many", pending: pending.map((p) => p.id) };
    }
    await tx.accessRequest.create({
      data: {
        id,
        requesterId: input.requesterId,
        resourceId: resource.id,
        durationSec: input.durationSec,
        reason: input.reason,
        requiredApprovals: resource.requiredApprovals,
        timeoutAt,
      },
    });
    await appendAudit(tx, {
      actor: input.requesterId,
      action: "request.created",
      requestId: id,
      resourceId: resource.id,
      details: { durationSec: input.durationSec, reason: input.reason, timeoutAt: timeoutAt.toISOString() },
    });
    return { kind: "created", id };
  });
}

/** Files a request: records it, then schedules its timeout and its approval cards. */
export async function requestAccess(deps: Deps, input: AccessRequestInput): Promise<Outcome> {
  const refusal = await checkRequest(deps, input);
  if (refusal) return refuseRequest(deps, input, refusal);
  const resource = deps.access.resource(input.resourceId);
  if (!resource) return refuse(`There is no resource "${input.resourceId}".`);
  const timeoutAt = new Date(Date.now() + deps.policy.requestTimeout * 1000);
  let filing: Filing | undefined;
  for (let attempt = 0; !filing; attempt++) {
    try {
      filing = await file(deps, input, resource, newRequestId(attempt < 3 ? 4 : 6), timeoutAt);
    } catch (error) {
      if (!isUniqueViolation(error) || attempt >= 10) throw error;
    }
  }
  if (filing.kind === "duplicate") {
    return ok(
      `You already have a pending request for ${resource.id}: ${filing.id} ` +
        `(${formatDuration(filing.durationSec)}). The approvers have it; I will DM you when it is decided. ` +
        `To ask differently, cancel it first with \`/jit cancel ${filing.id}\`.`,
      filing.id,
    );
  }
  if (filing.kind === "too-many") {
    const limit = deps.policy.maxPendingPerUser;
    return refuseRequest(deps, input, {
      field: "resource",
      message:
        `You already have ${filing.pending.length} pending requests (${filing.pending.join(", ")}), ` +
        `the most anyone may have at once. Wait for a decision, or cancel one with \`/jit cancel <id>\`.`,
      forbidden: `at the limit of ${limit} pending requests`,
    });
  }
  const id = filing.id;
  deps.metrics.transitions.inc({ status: "pending" });
  // After commit. If Redis is briefly down the reconciler posts the cards and times the request out.
  await Promise.all([scheduleTimeout(deps.queue, id, timeoutAt), enqueueCardSync(deps.queue, id)]).catch(
    (error) =>
      deps.logger.error(
        { err: error, requestId: id },
        "could not schedule the request's jobs; the reconciler will",
      ),
  );
  return ok(
    `Requested ${resource.id} for ${formatDuration(input.durationSec)} as ${id}. ` +
      "The approvers have been asked; I will DM you when it is decided.",
    id,
  );
}
