import type { KnownBlock, View } from "@slack/types";
import { formatDuration } from "../domain/duration.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import { choiceButtons, mention, mrkdwn, reasonSection, slackDate } from "./views.js";
import {
  ACTION_EXTEND_OPEN,
  ACTION_EXTENSION_APPROVE,
  ACTION_EXTENSION_DENY,
  BLOCK_DURATION,
  BLOCK_REASON,
  INPUT_DURATION,
  INPUT_REASON,
  VIEW_EXTEND,
} from "./wire.js";

export type ExtensionStatus = "PENDING" | "APPROVED" | "EXTENDED" | "DENIED" | "TIMED_OUT" | "FAILED";

/** What an extension's card shows; the request id is the grant's own, as the contract asks. */
export interface ExtensionCardState {
  id: string;
  requestId: string;
  seq: number;
  requesterId: string;
  resourceId: string;
  resourceName: string;
  durationSec: number;
  reason: string;
  status: ExtensionStatus;
  requiredApprovals: number;
  decisions: { approverId: string; outcome: "APPROVE" | "DENY" }[];
  /** The grant's expiry now (before the extension, or after it once EXTENDED). */
  expiresAt: Date | null;
  lastError?: string | null;
}

function outcomeLine(card: ExtensionCardState): string {
  const approvers = card.decisions.filter((d) => d.outcome === "APPROVE").map((d) => mention(d.approverId));
  const denier = card.decisions.find((d) => d.outcome === "DENY");
  const approvedBy = approvers.length ? `Approved by ${approvers.join(", ")}` : "";
  const until = card.expiresAt ? slackDate(card.expiresAt) : "its expiry";
  switch (card.status) {
    case "PENDING":
      return approvers.length
        ? `:hourglass: ${approvedBy}; ${card.requiredApprovals - approvers.length} more approval(s) needed`
        : `:hourglass: Waiting for ${card.requiredApprovals} approval(s); access now ends ${until}`;
    case "APPROVED":
      return `:white_check_mark: ${approvedBy}; extending…`;
    case "EXTENDED":
      return `:white_check_mark: ${approvedBy}; access extended until ${until}`;
    case "DENIED":
      return `:no_entry: Denied by ${denier ? mention(denier.approverId) : "an approver"}; access still ends ${until}`;
    case "TIMED_OUT":
      return `:alarm_clock: No decision in time; access still ends ${until}`;
    case "FAILED":
      return `:warning: ${approvedBy}; the extension could not be applied${card.lastError ? `: ${escapeMrkdwn(card.lastError)}` : ""}`;
  }
}

export function extensionCardText(card: ExtensionCardState): string {
  return `${card.requestId}: ${card.requesterId} asks to extend ${card.resourceId} by ${formatDuration(card.durationSec)} (extension ${card.seq}, ${card.status.toLowerCase()})`;
}

/** The approval card of an extension: marked as one, with the request's id. */
export function extensionCard(card: ExtensionCardState): KnownBlock[] {
  const blocks: KnownBlock[] = [
    {
      type: "section",
      text: mrkdwn(
        `:hourglass_flowing_sand: *Extension* — ${mention(card.requesterId)} asks for *${formatDuration(card.durationSec)}* more on ` +
          `*${escapeMrkdwn(card.resourceName)}* (\`${escapeMrkdwn(card.resourceId)}\`)`,
      ),
    },
    reasonSection(card.reason),
    {
      type: "context",
      elements: [
        mrkdwn(
          `Extension ${card.seq} of request \`${card.requestId}\` · needs ${card.requiredApprovals} approval(s)`,
        ),
      ],
    },
    { type: "section", text: mrkdwn(outcomeLine(card)) },
  ];
  if (card.status === "PENDING") {
    blocks.push(
      choiceButtons(
        `extension:${card.id}`,
        card.id,
        [ACTION_EXTENSION_APPROVE, "Approve"],
        [ACTION_EXTENSION_DENY, "Deny"],
      ),
    );
  }
  return blocks;
}

/** The grantee's reminder DM before expiry, with an Extend button that opens the form. */
export function expiryReminder(grant: { requestId: string; resourceId: string; expiresAt: Date }): {
  text: string;
  blocks: KnownBlock[];
} {
  const text = `:bell: Your access to ${escapeMrkdwn(grant.resourceId)} (${grant.requestId}) ends ${slackDate(grant.expiresAt)}.`;
  return {
    text,
    blocks: [
      { type: "section", text: mrkdwn(`${text} Need more time?`) },
      {
        type: "actions",
        block_id: `remind:${grant.requestId}`,
        elements: [
          {
            type: "button",
            action_id: ACTION_EXTEND_OPEN,
            text: { type: "plain_text", text: "Extend" },
            value: grant.requestId,
          },
        ],
      },
    ],
  };
}

/** The extension form (duration, reason); private_metadata carries the request id. */
export function extendModal(requestId: string, resourceName: string): View {
  return {
    type: "modal",
    callback_id: VIEW_EXTEND,
    private_metadata: requestId,
    title: { type: "plain_text", text: "Extend access" },
    submit: { type: "plain_text", text: "Ask" },
    close: { type: "plain_text", text: "Cancel" },
    blocks: [
      {
        type: "section",
        text: mrkdwn(`More time on *${escapeMrkdwn(resourceName)}* (\`${requestId}\`)`),
      },
      {
        type: "input",
        block_id: BLOCK_DURATION,
        label: { type: "plain_text", text: "How much longer" },
        hint: { type: "plain_text", text: "Like 30m, 2h or 1h30m" },
        element: {
          type: "plain_text_input",
          action_id: INPUT_DURATION,
          placeholder: { type: "plain_text", text: "30m" },
        },
      },
      {
        type: "input",
        block_id: BLOCK_REASON,
        label: { type: "plain_text", text: "Reason" },
        element: { type: "plain_text_input", action_id: INPUT_REASON, multiline: true, max_length: 1000 },
      },
    ],
  };
}
