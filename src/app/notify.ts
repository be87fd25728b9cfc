import { formatDuration } from "../domain/duration.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import type { Deps } from "./deps.js";

/**
 * The requester's DM for one lifecycle event (granted is sent by the grant job itself, because it
 * carries credentials that must not pass through Redis).
 */
export async function runNotify(deps: Deps, requestId: string, event: string): Promise<void> {
  const request = await deps.db.accessRequest.findUnique({
    where: { id: requestId },
    include: { grant: true, decisions: true },
  });
  if (!request) return;
  const what = `${request.resourceId} (${request.id})`;
  const denier = request.decisions.find((d) => d.outcome === "DENY")?.approverId;
  const texts: Record<string, string> = {
    denied: `:no_entry: Your request for ${what} was denied${denier ? ` by <@${denier}>` : ""}.`,
    timed_out: `:alarm_clock: Your request for ${what} expired: no approver decided within ${formatDuration(deps.policy.requestTimeout)}.`,
    revoked: `:lock: Your access to ${what} was revoked${
      request.grant?.revokeRequestedBy && request.grant.revokeRequestedBy !== request.requesterId
        ? ` by <@${request.grant.revokeRequestedBy}>`
        : ""
    }${request.grant?.revokeReason ? `: ${escapeMrkdwn(request.grant.revokeReason)}` : "."}`,
    expired: `:lock: Your access to ${what} has expired and was revoked.`,
    undelivered:
      `:warning: Your access to ${what} was granted, but I could not send you its details. ` +
      `Run \`/jit revoke ${request.id}\` and request it again.`,
    failed: `:warning: Your access to ${what} could not be granted${
      request.grant?.lastError ? `: ${escapeMrkdwn(request.grant.lastError)}` : "."
    } Nothing was left behind; you can request it again.`,
  };
  const text = texts[event];
  if (!text) throw new Error(`unknown notification event ${event}`);
  await deps.messenger.dm(request.requesterId, text);
}
