import type { KnownBlock } from "@slack/types";
import type { Resource } from "../config/policy.js";
import type { Deps } from "./deps.js";

/** Where a card goes: every approver by DM (not the requester, unless selfApproval) and the approvals channel. */
export interface CardTarget {
  recipient: string;
  channel: () => Promise<string>;
}

export async function cardTargets(
  deps: Deps,
  resource: Resource,
  requesterId: string,
  /** A break-glass review card: approvers other than the requester (whatever selfApproval says), DMs only. */
  options: { review?: boolean } = {},
): Promise<CardTarget[]> {
  const targets: CardTarget[] = [];
  for (const approver of await deps.access.approvers(resource)) {
    if (approver === requesterId && (options.review || !resource.selfApproval)) continue;
    targets.push({ recipient: approver, channel: () => deps.messenger.dmChannel(approver) });
  }
  const channel = deps.policy.approvalsChannel;
  if (channel && !options.review) targets.push({ recipient: channel, channel: async () => channel });
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
