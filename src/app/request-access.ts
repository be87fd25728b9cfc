import { checkDurationBounds, formatDuration } from "../domain/duration.js";
import { newRequestId } from "../domain/ids.js";
import { enqueueCardSync, scheduleTimeout } from "../jobs/schedule.js";
import { appendAudit } from "../store/audit.js";
import type { Deps } from "./deps.js";
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
    return { field: "resource", message: `You may not request ${resource.id}; ask an admin if you need it.` };
  }
  const bounds = { min: deps.policy.minDuration, max: resource.maxDuration };
  const tooLong = checkDurationBounds(input.durationSec, bounds, resource.id);
  return tooLong ? { field: "duration", message: tooLong } : null;
}

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === "P2002";

/** Files a request: records it, then schedules its timeout and its approval cards. */
export async function requestAccess(deps: Deps, input: AccessRequestInput): Promise<Outcome> {
  const refusal = await checkRequest(deps, input);
  if (refusal) return refuse(refusal.message);
  const resource = deps.access.resource(input.resourceId);
  if (!resource) return refuse(`There is no resource "${input.resourceId}".`);
  const timeoutAt = new Date(Date.now() + deps.policy.requestTimeout * 1000);
  let id = "";
  for (let attempt = 0; !id; attempt++) {
    const candidate = newRequestId(attempt < 3 ? 4 : 6);
    try {
      await deps.db.$transaction(async (tx) => {
        await tx.accessRequest.create({
          data: {
            id: candidate,
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
          requestId: candidate,
          resourceId: resource.id,
          details: {
            durationSec: input.durationSec,
            reason: input.reason,
            timeoutAt: timeoutAt.toISOString(),
          },
        });
      });
      id = candidate;
    } catch (error) {
      if (!isUniqueViolation(error) || attempt >= 10) throw error;
    }
  }
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
