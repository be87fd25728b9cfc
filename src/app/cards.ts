import type { Resource } from "../config/policy.js";
import type { CardState } from "../slack/views.js";
import { approvalCard, cardText } from "../slack/views.js";
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
 * pending, and updates every copy already posted to the current state. Runs for one request are
 * serialized by a transaction-scoped advisory lock, so two runs never post the same copy twice.
 */
export async function syncCards(deps: Deps, requestId: string): Promise<void> {
  await deps.db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`cards:${requestId}`}))`;
      const request = await tx.accessRequest.findUnique({
        where: { id: requestId },
        include: requestInclude,
      });
      if (!request) return;
      const resource = deps.access.resource(request.resourceId);
      const card = toCardState(request, resource);
      const blocks = approvalCard(card);
      const text = cardText(card);
      const posted = new Set(request.cards.map((c) => c.recipientId ?? c.channel));
      if (request.status === "PENDING" && resource) {
        const targets: { recipient: string; channel: () => Promise<string> }[] = [];
        for (const approver of await deps.access.approvers(resource)) {
          if (approver === request.requesterId && !resource.selfApproval) continue;
          targets.push({ recipient: approver, channel: () => deps.messenger.dmChannel(approver) });
        }
        const channel = deps.policy.approvalsChannel;
        if (channel) targets.push({ recipient: channel, channel: async () => channel });
        for (const target of targets.filter((t) => !posted.has(t.recipient))) {
          const message = await deps.messenger.post(await target.channel(), text, blocks);
          // Recorded outside the transaction: a copy posted stays recorded even if a later post fails.
          await deps.db.cardMessage.create({
            data: { requestId, channel: message.channel, ts: message.ts, recipientId: target.recipient },
          });
        }
      }
      for (const copy of request.cards) {
        await deps.messenger.update(copy.channel, copy.ts, text, blocks);
      }
    },
    { timeout: 120_000, maxWait: 30_000 },
  );
}
