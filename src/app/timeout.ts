import { formatDuration } from "../domain/duration.js";
import { enqueueCardSync, enqueueNotify } from "../jobs/schedule.js";
import type { Deps } from "./deps.js";
import { transition } from "./transition.js";

/** Ends a request nobody decided on within `requestTimeout`. Early or repeated runs change nothing. */
export async function runTimeout(deps: Deps, requestId: string): Promise<void> {
  const request = await deps.db.accessRequest.findUnique({ where: { id: requestId } });
  if (request?.status !== "PENDING" || request.timeoutAt.getTime() > Date.now()) return;
  const moved = await deps.db.$transaction((tx) =>
    transition(tx, request, "timeout", "jit", { requestTimeout: formatDuration(deps.policy.requestTimeout) }),
  );
  if (!moved) return;
  deps.metrics.transitions.inc({ status: "timed_out" });
  await Promise.all([
    enqueueNotify(deps.queue, requestId, "timed_out"),
    enqueueCardSync(deps.queue, requestId),
  ]);
}
