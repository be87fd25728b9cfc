import type { KnownBlock } from "@slack/types";
import { formatDuration } from "../domain/duration.js";
import { escapeMrkdwn, escapeMrkdwnWithin } from "../domain/mrkdwn.js";
import { type CardState, choiceButtons, mention, mrkdwn, reasonSection, slackDate } from "./views.js";
import { ACTION_BREAKGLASS_ACK, ACTION_BREAKGLASS_FLAG } from "./wire.js";

/** A break-glass request as its review card shows it. */
export interface ReviewCardState extends CardState {
  reviewOutcome: string | null;
  reviewedBy: string | null;
}

export type BreakglassAlertKind = "used" | "repeat" | "flagged";

/** The loud part: who took what, why, and who should review it (mrkdwn; user text escaped). */
export function breakglassAlert(
  kind: BreakglassAlertKind,
  card: {
    id: string;
    requesterId: string;
    resourceId: string;
    resourceName: string;
    durationSec: number;
    reason: string;
  },
  approvers: string[],
  reviewer?: string | null,
): string {
  const who = `${mention(card.requesterId)} took *${escapeMrkdwn(card.resourceName)}* (\`${escapeMrkdwn(card.resourceId)}\`) for ${formatDuration(card.durationSec)}`;
  const head = {
    used: `:rotating_light: *Break-glass* ${card.id}: ${who} without approval.`,
    repeat: `:rotating_light: *Break-glass ${card.id} is still not reviewed*: ${who} without approval.`,
    flagged: `:triangular_flag_on_post: *Break-glass ${card.id} was flagged* by ${reviewer ? mention(reviewer) : "a reviewer"}; its access is being ended. ${who}.`,
  }[kind];
  const reviewers = approvers.length
    ? approvers.map(mention).join(", ")
    : "nobody (no approver other than the requester)";
  return [
    head,
    `*Reason:* ${escapeMrkdwnWithin(card.reason, 1500)}`,
    kind === "flagged" ? "" : `*Reviewers:* ${reviewers} — acknowledge or flag it from the review card.`,
  ]
    .filter(Boolean)
    .join("\n");
}

function reviewLine(card: ReviewCardState): string {
  const access =
    {
      APPROVED: "access being granted",
      ACTIVE: card.expiresAt ? `access until ${slackDate(card.expiresAt)}` : "access active",
      EXPIRED: "access expired",
      REVOKED: `access ended${card.endedBy ? ` by ${mention(card.endedBy)}` : ""}`,
      FAILED: "the grant failed",
    }[card.status as string] ?? card.status.toLowerCase();
  if (card.reviewOutcome === "acknowledged")
    return `:white_check_mark: Acknowledged by ${mention(card.reviewedBy ?? "")} · ${access}`;
  if (card.reviewOutcome === "flagged")
    return `:triangular_flag_on_post: Flagged by ${mention(card.reviewedBy ?? "")} · ${access}`;
  return `:eyes: Not reviewed yet · ${access}`;
}

export function reviewCardText(card: ReviewCardState): string {
  return `${card.id}: break-glass by ${card.requesterId} on ${card.resourceId} (${card.reviewOutcome ?? "not reviewed"})`;
}

/** The review card sent to the approvers; Acknowledge / Flag until one review settles it. */
export function reviewCard(card: ReviewCardState): KnownBlock[] {
  const blocks: KnownBlock[] = [
    {
      type: "section",
      text: mrkdwn(
        `:rotating_light: *Break-glass* — ${mention(card.requesterId)} took *${escapeMrkdwn(card.resourceName)}* ` +
          `(\`${escapeMrkdwn(card.resourceId)}\`) for *${formatDuration(card.durationSec)}* without approval`,
      ),
    },
    reasonSection(card.reason),
    { type: "context", elements: [mrkdwn(`Request \`${card.id}\` · one review by an approver settles it`)] },
    { type: "section", text: mrkdwn(reviewLine(card)) },
  ];
  if (!card.reviewOutcome) {
    blocks.push(
      choiceButtons(
        `review:${card.id}`,
        card.id,
        [ACTION_BREAKGLASS_ACK, "Acknowledge"],
        [ACTION_BREAKGLASS_FLAG, "Flag"],
      ),
    );
  }
  return blocks;
}
