import type { KnownBlock } from "@slack/types";
import type { Resource } from "../config/policy.js";
import { tryWithMutex } from "../jobs/mutex.js";
import { approvalCard, type CardState, cardText } from "../slack/views.js";
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
  const blocks = approvalCard(card);
  const text = cardText(card);
  if (request.status === "PENDING" && resource) {
    await postMissingCopies(deps, {
      targets: await cardTargets(deps, resource, request.requesterId),
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

/** Where a card goes: every approver by DM (not the requester, unless selfApproval) and the approvals channel. */
export interface CardTarget {
  recipient: string;
  channel: () => Promise<string>;
}

export async function cardTargets(
  deps: Deps,
  resource: Resource,
  requesterId: string,
): Promise<CardTarget[]> {
  const targets: CardTarget[] = [];
  for (const approver of await deps.access.approvers(resource)) {
    if (approver === requesterId && !resource.selfApproval) continue;
    targets.push({ recipient: approver, channel: () => deps.messenger.dmChannel(approver) });
  }
  const channel = deps.policy.approvalsChannel;
  if (channel) targets.push({ recipient: channel, channel: async () => channel });
  return targets;
}

/**
 * Posts the card to every target that has no recorded copy yet. A copy that cannot be recorded is
 * taken back: unrecorded, it could never be updated and would keep live buttons forever; the
 * retried job posts it again.
 */
export async function postMissingCopies(
  deps: Deps,
  card: {
    targets: CardTarget[];
    posted: { recipientId: string | null; channel: string }[];
    text: string;
    blocks: KnownBlock[];
    record: (message: { channel: string; ts: string }, recipient: string) => Promise<unknown>;
  },
): Promise<void> {
  const posted = new Set(card.posted.map((c) => c.recipientId ?? c.channel));
  for (const target of card.targets.filter((t) => !posted.has(t.recipient))) {
    const message = await deps.messenger.post(await target.channel(), card.text, card.blocks);
    try {
      await card.record(message, target.recipient);
    } catch (error) {
      await deps.messenger.remove(message.channel, message.ts).catch(() => undefined);
      throw error;
    }
  }
}

/**
 * Slack errors that mean a copy can never be updated again (deleted, or its channel archived or
 * gone): retrying would fail forever, so such a copy counts as done.
 */
const GONE = new Set(["message_not_found", "channel_not_found", "is_archived", "cant_update_message"]);

/**
 * Updates every copy, even when one fails (a failing copy must not hold the others back), and
 * records on each copy the status it now shows (`markRendered`); throws the first failure so the
 * job retries.
 */
export async function updateCopies(
  deps: Deps,
  copies: { id: number; channel: string; ts: string }[],
  text: string,
  blocks: KnownBlock[],
  markRendered: (copyId: number) => Promise<unknown>,
): Promise<void> {
  let failure: unknown;
  for (const copy of copies) {
    try {
      await deps.messenger.update(copy.channel, copy.ts, text, blocks);
    } catch (error) {
      const code = (error as { data?: { error?: string } }).data?.error;
      if (!code || !GONE.has(code)) {
        failure ??= error;
        continue;
      }
      deps.logger.warn({ channel: copy.channel, err: code }, "approval card copy is gone; not updating it");
    }
    // The status this render showed, even if the request has moved on since: the copy then lags,
    // and the job already queued for the newer status (or the reconciler) updates it again.
    await markRendered(copy.id);
  }
  if (failure) throw failure;
}
