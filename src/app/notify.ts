import { formatDuration } from "../domain/duration.js";
import type { RequestStatus } from "../domain/lifecycle.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import type { Deps } from "./deps.js";

/**
 * The requester's DM for each status that ends in news for them, by notification event. ACTIVE's
 * own DM (with the credentials) is sent by the grant job; its event here is the secret-free notice
 * that the details could not be delivered. CANCELLED has none: the requester did it themselves.
 */
export const OUTCOME_EVENTS = {
  DENIED: "denied",
  TIMED_OUT: "timed_out",
  REVOKED: "revoked",
  EXPIRED: "expired",
  FAILED: "failed",
  ACTIVE: "undelivered",
} as const satisfies Partial<Record<RequestStatus, string>>;

type OutcomeStatus = keyof typeof OUTCOME_EVENTS;

const ANNOUNCED = Object.fromEntries(
  Object.entries(OUTCOME_EVENTS).map(([status, event]) => [event, status as OutcomeStatus]),
) as Record<string, OutcomeStatus>;

/**
 * The requester's DM for one lifecycle event (granted is sent by the grant job itself, because it
 * carries credentials that must not pass through Redis). Idempotent: the request records which
 * status its requester was told, so a retried or repaired job never sends the same news twice,
 * and news the request has moved past (an undelivered notice after a revocation) is dropped.
 */
export async function runNotify(deps: Deps, requestId: string, event: string): Promise<void> {
  const announced = ANNOUNCED[event];
  if (!announced) throw new Error(`unknown notification event ${event}`);
  const request = await deps.db.accessRequest.findUnique({
    where: { id: requestId },
    include: { grant: true, decisions: true },
  });
  if (request?.status !== announced || request.notifiedStatus === announced) return;
  const what = `${request.resourceId} (${request.id})`;
  const denier = request.decisions.find((d) => d.outcome === "DENY")?.approverId;
  const texts: Record<OutcomeStatus, () => string> = {
    DENIED: () => `:no_entry: Your request for ${what} was denied${denier ? ` by <@${denier}>` : ""}.`,
    TIMED_OUT: () =>
      `:alarm_clock: Your request for ${what} expired: no approver decided within ${formatDuration(deps.policy.requestTimeout)}.`,
    REVOKED: () =>
      `:lock: Your access to ${what} was revoked${
        request.grant?.revokeRequestedBy && request.grant.revokeRequestedBy !== request.requesterId
          ? ` by <@${request.grant.revokeRequestedBy}>`
          : ""
      }${request.grant?.revokeReason ? `: ${escapeMrkdwn(request.grant.revokeReason)}` : "."}`,
    EXPIRED: () => `:lock: Your access to ${what} has expired and was revoked.`,
    ACTIVE: () =>
      `:warning: Your access to ${what} was granted, but I could not send you its details. ` +
      `Run \`/jit revoke ${request.id}\` and request it again.`,
    FAILED: () =>
      `:warning: Your access to ${what} could not be granted${
        request.grant?.lastError ? `: ${escapeMrkdwn(request.grant.lastError)}` : "."
      } Nothing was left behind; you can request it again.`,
  };
  await deps.messenger.dm(request.requesterId, texts[announced]());
  await recordNotified(deps, requestId, announced);
}

/**
 * Records that the requester was told `status`, while the request is still in it (so a late write
 * never moves the record backwards). Called right after the DM succeeded; never throws, because
 * the DM is out: a failed write only means the reconciler may say it once more.
 */
export async function recordNotified(deps: Deps, requestId: string, status: RequestStatus): Promise<void> {
  // Raw SQL: a Prisma update would also move updatedAt, which says when the status changed.
  await deps.db.$executeRaw`
    UPDATE "AccessRequest" SET "notifiedStatus" = ${status}::"RequestStatus"
    WHERE id = ${requestId} AND status = ${status}::"RequestStatus"`.catch((error: Error) =>
    deps.logger.warn({ err: error.message, requestId, status }, "could not record the requester's DM"),
  );
}
