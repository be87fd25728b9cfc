import type { Resource } from "../config/policy.js";
import { tryWithMutex } from "../jobs/mutex.js";
import { reviewCard, reviewCardText } from "../slack/breakglass-views.js";
import { approvalCard, type CardState, cardText } from "../slack/views.js";
import { scheduleApproverReminders } from "./approver-reminders.js";
import { cardTargets, postMissingCopies, updateCopies } from "./card-copies.js";
import type { Deps } from "./deps.js";

type RequestWithParts = NonNullable<Awaited<ReturnType<typeof loadRequest>>>;

export const requestInclude = {
  decisions: { orderBy: { createdAt: "asc" } },
  grant: true,
  cards: true,
} as const;

export function loadRequest(deps: Deps, requestId: string) {
  return deps.db.accessRequest.findUnique({ where: { id: requestId }, include: requestInclude });
}

export function toCardState(request: RequestWithParts, resource: Resource | undefined): CardState {
  return {
    id: request.id,
    requesterId: request.requesterId,
    resourceId: request.resourceId,
    resourceName: resource?.name ?? request.resourceId,
    durationSec: request.durationSec,
    reason: request.reason,
    status: request.status,
    requiredApprovals: request.requiredApprovals,
    decisions: request.decisions,
    expiresAt: request.grant?.expiresAt,
    endedBy: request.grant?.revokeRequestedBy,
    lastError: request.status === "FAILED" ? request.grant?.lastError : null,
  };
}

/**
 * Posts the approval card to every approver (DM) and the approvals channel while the request is
 * pending, and updates every copy already posted to the current state. Runs for one request never
 * overlap (a Redis mutex), so two runs cannot post the same copy twice or let an older state
 * overwrite a newer one. Returns false when another run holds the mutex: the caller retries soon.
 */
export async function syncCards(deps: Deps, requestId: string): Promise<boolean> {
  const key = `${deps.env.JIT_QUEUE_PREFIX}:mutex:cards:${requestId}`;
  const result = await tryWithMutex(deps.redis, key, 60_000, () => syncCardsNow(deps, requestId));
  return result.ran;
}

async function syncCardsNow(deps: Deps, requestId: string): Promise<void> {
  const request = await loadRequest(deps, requestId);
  if (!request) return;
  const resource = deps.access.resource(request.resourceId);
  const card = toCardState(request, resource);
  // A break-glass request has no approval card: its copies are the review card, posted until reviewed.
  const review = request.breakglass
    ? { ...card, reviewOutcome: request.reviewOutcome, reviewedBy: request.reviewedBy }
    : null;
  const blocks = review ? reviewCard(review) : approvalCard(card);
  const text = review ? reviewCardText(review) : cardText(card);
  const open = review ? !review.reviewOutcome : request.status === "PENDING";
  if (open && resource) {
    await postMissingCopies(deps, {
      targets: await cardTargets(deps, resource, request.requesterId, { review: Boolean(review) }),
      posted: request.cards,
      text,
      blocks,
      record: (message, recipient) =>
        deps.db.cardMessage.create({
          data: {
            requestId,
            channel: message.channel,
            ts: message.ts,
            recipientId: recipient,
            renderedStatus: card.status,
          },
        }),
    });
  }
  if (request.status === "PENDING" && !review) await scheduleApproverReminders(deps, request);
  await updateCopies(
    deps,
    request.cards,
    text,
    blocks,
    (copyId) =>
      deps.db.$executeRaw`
      UPDATE "CardMessage" SET "renderedStatus" = ${card.status}::"RequestStatus" WHERE id = ${copyId}`,
  );
}
