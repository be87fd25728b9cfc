import type { KnownBlock, MrkdwnElement } from "@slack/types";
import { formatDuration } from "../domain/duration.js";
import type { RequestStatus } from "../domain/lifecycle.js";
import { escapeMrkdwn, escapeMrkdwnWithin } from "../domain/mrkdwn.js";
import { ACTION_APPROVE, ACTION_DENY } from "./wire.js";

/**
 * Block Kit views: pure functions from state to blocks. User-typed text is escaped here, once;
 * the only markup we emit ourselves is user mentions of Slack ids that Slack gave us, and date
 * tokens. Every mrkdwn text object is `verbatim`, so Slack does not turn what a user typed into
 * links or mentions on its own (a bare URL, `#channel` or `@name`); our explicit markup still works.
 */
export interface CardState {
  id: string;
  requesterId: string;
  resourceId: string;
  resourceName: string;
  durationSec: number;
  reason: string;
  status: RequestStatus;
  requiredApprovals: number;
  decisions: { approverId: string; outcome: "APPROVE" | "DENY" }[];
  expiresAt?: Date | null;
  endedBy?: string | null;
  lastError?: string | null;
}

export const mention = (userId: string) => `<@${userId}>`;

/** A mrkdwn text object that Slack renders as written (see the note above). */
export const mrkdwn = (text: string): MrkdwnElement => ({ type: "mrkdwn", text, verbatim: true });

/** Slack's limit for a section's text. */
const SECTION_MAX = 3000;
const REASON_LABEL = "*Reason:* ";

/** A Slack date token: every reader sees the time in their own time zone. */
export function slackDate(date: Date): string {
  const seconds = Math.floor(date.getTime() / 1000);
  return `<!date^${seconds}^{date_short_pretty} {time}|${date.toISOString()}>`;
}

function outcomeLine(card: CardState): string {
  const approvers = card.decisions.filter((d) => d.outcome === "APPROVE").map((d) => mention(d.approverId));
  const denier = card.decisions.find((d) => d.outcome === "DENY");
  const approvedBy = approvers.length ? `Approved by ${approvers.join(", ")}` : "";
  switch (card.status) {
    case "PENDING":
      return approvers.length
        ? `:hourglass: ${approvedBy}; ${card.requiredApprovals - approvers.length} more approval(s) needed`
        : `:hourglass: Waiting for ${card.requiredApprovals} approval(s)`;
    case "APPROVED":
      return `:white_check_mark: ${approvedBy}; granting access…`;
    case "ACTIVE":
      return `:white_check_mark: ${approvedBy}; access granted${card.expiresAt ? ` until ${slackDate(card.expiresAt)}` : ""}`;
    case "EXPIRED":
      return `:white_check_mark: ${approvedBy}; access expired and was revoked`;
    case "REVOKED":
      return `:white_check_mark: ${approvedBy}; access revoked early${card.endedBy ? ` by ${mention(card.endedBy)}` : ""}`;
    case "DENIED":
      return `:no_entry: Denied by ${denier ? mention(denier.approverId) : "an approver"}`;
    case "CANCELLED":
      return ":heavy_multiplication_x: Cancelled by the requester";
    case "TIMED_OUT":
      return ":alarm_clock: Expired: no decision in time";
    case "FAILED":
      return `:warning: ${approvedBy}; the grant failed${card.lastError ? `: ${escapeMrkdwnWithin(card.lastError, 500)}` : ""}`;
  }
}

/** The reason a person typed, escaped and cut to fit one section. */
export function reasonSection(reason: string): KnownBlock {
  return {
    type: "section",
    text: mrkdwn(`${REASON_LABEL}${escapeMrkdwnWithin(reason, SECTION_MAX - REASON_LABEL.length)}`),
  };
}

export function cardText(card: CardState): string {
  return `${card.id}: ${card.requesterId} requests ${card.resourceId} for ${formatDuration(card.durationSec)} (${card.status.toLowerCase()})`;
}

export function approvalCard(card: CardState): KnownBlock[] {
  const blocks: KnownBlock[] = [
    {
      type: "section",
      text: mrkdwn(
        `${mention(card.requesterId)} requests *${escapeMrkdwn(card.resourceName)}* ` +
          `(\`${escapeMrkdwn(card.resourceId)}\`) for *${formatDuration(card.durationSec)}*`,
      ),
    },
    reasonSection(card.reason),
    {
      type: "context",
      elements: [mrkdwn(`Request \`${card.id}\` · needs ${card.requiredApprovals} approval(s)`)],
    },
    { type: "section", text: mrkdwn(outcomeLine(card)) },
  ];
  if (card.status === "PENDING") {
    blocks.push(
      choiceButtons(`decide:${card.id}`, card.id, [ACTION_APPROVE, "Approve"], [ACTION_DENY, "Deny"]),
    );
  }
  return blocks;
}

/** A card's two buttons: go ahead (primary) and stop (danger), both carrying `value`. */
export function choiceButtons(
  blockId: string,
  value: string,
  [yesAction, yesText]: [string, string],
  [noAction, noText]: [string, string],
): KnownBlock {
  const button = (actionId: string, text: string, style: "primary" | "danger") => ({
    type: "button" as const,
    action_id: actionId,
    text: { type: "plain_text" as const, text },
    style,
    value,
  });
  return {
    type: "actions",
    block_id: blockId,
    elements: [button(yesAction, yesText, "primary"), button(noAction, noText, "danger")],
  };
}

/** One line per request for `/jit list` and `/jit status`. */
export function requestLine(card: CardState): string {
  const until = card.status === "ACTIVE" && card.expiresAt ? ` until ${slackDate(card.expiresAt)}` : "";
  return (
    `\`${card.id}\` *${escapeMrkdwn(card.resourceId)}* for ${formatDuration(card.durationSec)} — ` +
    `${card.status.toLowerCase().replace("_", " ")}${until}`
  );
}

/** A refused action on a request and how many times it was tried (src/app/refusals.ts). */
export interface RefusalLine {
  actor: string;
  action: string;
  reason: string;
  count: number;
}

export function statusText(card: CardState, refusals: RefusalLine[] = []): string {
  return [
    `*Request \`${card.id}\`*`,
    `Requester: ${mention(card.requesterId)}`,
    `Resource: *${escapeMrkdwn(card.resourceName)}* (\`${escapeMrkdwn(card.resourceId)}\`)`,
    `Duration: ${formatDuration(card.durationSec)}`,
    `Reason: ${escapeMrkdwn(card.reason)}`,
    `Status: ${outcomeLine(card)}`,
    ...(refusals.length ? ["Refused attempts:"] : []),
    ...refusals.map(
      (r) =>
        `• ${mention(r.actor)}: ${escapeMrkdwn(r.action.split(".")[0] ?? r.action)} refused ` +
        `${r.count === 1 ? "once" : `${r.count} times`} (${escapeMrkdwn(r.reason)})`,
    ),
  ].join("\n");
}
