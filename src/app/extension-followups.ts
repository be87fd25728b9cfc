import { formatDuration } from "../domain/duration.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import { tryWithMutex } from "../jobs/mutex.js";
import {
  enqueueExtend,
  enqueueExtensionCards,
  enqueueExtensionNotify,
  ensureJob,
  jobId,
} from "../jobs/schedule.js";
import {
  type ExtensionCardState,
  type ExtensionStatus,
  extensionCard,
  extensionCardText,
} from "../slack/extension-views.js";
import { slackDate } from "../slack/views.js";
import { appendAudit } from "../store/audit.js";
import { cardTargets, postMissingCopies, updateCopies } from "./card-copies.js";
import type { Deps } from "./deps.js";

export const extensionInclude = {
  decisions: { orderBy: { createdAt: "asc" } },
  cards: true,
  grant: true,
} as const;

function loadExtension(deps: Deps, extensionId: string) {
  return deps.db.extension.findUnique({ where: { id: extensionId }, include: extensionInclude });
}

type Loaded = NonNullable<Awaited<ReturnType<typeof loadExtension>>>;

/** What an extension's card (and the App Home) shows. */
export function extensionCardState(deps: Deps, extension: Loaded): ExtensionCardState {
  const resource = deps.access.resource(extension.grant.resourceId);
  return {
    id: extension.id,
    requestId: extension.requestId,
    seq: extension.seq,
    requesterId: extension.requesterId,
    resourceId: extension.grant.resourceId,
    resourceName: resource?.name ?? extension.grant.resourceId,
    durationSec: extension.durationSec,
    reason: extension.reason,
    status: extension.status,
    requiredApprovals: extension.requiredApprovals,
    decisions: extension.decisions,
    expiresAt: extension.grant.expiresAt,
    lastError: extension.lastError,
  };
}

/**
 * Posts an extension's card to the request's approvers (the same targets as the request's card)
 * while it is pending, and updates every copy to its current state. Runs for one extension never
 * overlap (a Redis mutex); false when another run holds it, and the caller retries soon.
 */
export async function syncExtensionCards(deps: Deps, extensionId: string): Promise<boolean> {
  const key = `${deps.env.JIT_QUEUE_PREFIX}:mutex:extension-cards:${extensionId}`;
  const result = await tryWithMutex(deps.redis, key, 60_000, async () => {
    const extension = await loadExtension(deps, extensionId);
    if (!extension) return;
    const card = extensionCardState(deps, extension);
    const blocks = extensionCard(card);
    const text = extensionCardText(card);
    const resource = deps.access.resource(card.resourceId);
    if (extension.status === "PENDING" && resource) {
      await postMissingCopies(deps, {
        targets: await cardTargets(deps, resource, extension.requesterId),
        posted: extension.cards,
        text,
        blocks,
        record: (message, recipient) =>
          deps.db.extensionCard.create({
            data: {
              extensionId,
              channel: message.channel,
              ts: message.ts,
              recipientId: recipient,
              renderedStatus: card.status,
            },
          }),
      });
    }
    await updateCopies(deps, extension.cards, text, blocks, (copyId) =>
      deps.db.extensionCard.update({ where: { id: copyId }, data: { renderedStatus: card.status } }),
    );
  });
  return result.ran;
}

const ANNOUNCED: Record<string, ExtensionStatus> = {
  extended: "EXTENDED",
  denied: "DENIED",
  timed_out: "TIMED_OUT",
  failed: "FAILED",
};

/** The grantee's DM about their extension; idempotent like the request's (src/app/notify.ts). */
export async function runExtensionNotify(deps: Deps, extensionId: string, event: string): Promise<void> {
  const announced = ANNOUNCED[event];
  if (!announced) throw new Error(`unknown extension notification event ${event}`);
  const extension = await loadExtension(deps, extensionId);
  if (extension?.status !== announced || extension.notifiedStatus === announced) return;
  const what = `${extension.grant.resourceId} (${extension.requestId})`;
  const until = extension.grant.expiresAt ? slackDate(extension.grant.expiresAt) : "at its expiry";
  const denier = extension.decisions.find((d) => d.outcome === "DENY")?.approverId;
  const texts: Record<string, () => string> = {
    EXTENDED: () =>
      `:hourglass_flowing_sand: Your access to ${what} was extended by ${formatDuration(extension.durationSec)}; it now ends ${until}.`,
    DENIED: () =>
      `:no_entry: Your extension of ${what} was denied${denier ? ` by <@${denier}>` : ""}; access still ends ${until}.`,
    TIMED_OUT: () =>
      `:alarm_clock: No approver decided on extending ${what} in time; access still ends ${until}.`,
    FAILED: () =>
      `:warning: Your extension of ${what} could not be applied${
        extension.lastError ? `: ${escapeMrkdwn(extension.lastError)}` : "."
      } Access ends ${until}.`,
  };
  await deps.messenger.dm(extension.requesterId, (texts[announced] as () => string)());
  await deps.db.extension
    .updateMany({ where: { id: extensionId, status: announced }, data: { notifiedStatus: announced } })
    .catch((error: Error) =>
      deps.logger.warn({ err: error.message, extensionId }, "could not record the extension DM"),
    );
}

/** Ends an extension nobody decided on in time; the grant is unchanged. Early runs change nothing. */
export async function runExtensionTimeout(deps: Deps, extensionId: string): Promise<void> {
  const extension = await deps.db.extension.findUnique({
    where: { id: extensionId },
    include: { grant: true },
  });
  if (extension?.status !== "PENDING" || extension.timeoutAt.getTime() > Date.now()) return;
  const moved = await deps.db.$transaction(async (tx) => {
    const { count } = await tx.extension.updateMany({
      where: { id: extensionId, status: "PENDING" },
      data: { status: "TIMED_OUT" },
    });
    if (count === 1) {
      await appendAudit(tx, {
        actor: "jit",
        action: "extension.timed_out",
        requestId: extension.requestId,
        resourceId: extension.grant.resourceId,
        details: { extensionId },
      });
    }
    return count === 1;
  });
  if (!moved) return;
  await Promise.all([
    enqueueExtensionNotify(deps.queue, extensionId, "timed_out"),
    enqueueExtensionCards(deps.queue, extensionId),
  ]);
}

/**
 * The reconciler's part for extensions: overdue ones timed out, approved ones whose apply job was
 * lost given one again, pending ones with no card posted given their cards.
 */
export async function reconcileExtensions(deps: Deps, stale: Date): Promise<void> {
  const now = new Date();
  const open = await deps.db.extension.findMany({
    where: { status: { in: ["PENDING", "APPROVED"] } },
    select: { id: true, status: true, timeoutAt: true, updatedAt: true, _count: { select: { cards: true } } },
  });
  for (const extension of open) {
    if (extension.status === "PENDING" && extension.timeoutAt <= now) {
      await runExtensionTimeout(deps, extension.id);
    } else if (
      extension.status === "PENDING" &&
      extension._count.cards === 0 &&
      extension.updatedAt < stale
    ) {
      await enqueueExtensionCards(deps.queue, extension.id);
    } else if (extension.status === "APPROVED" && extension.updatedAt < stale) {
      await ensureJob(deps.queue, jobId.extend(extension.id), () => enqueueExtend(deps.queue, extension.id));
    }
  }
}
