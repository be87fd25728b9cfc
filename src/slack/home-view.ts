import type { Button, KnownBlock, View } from "@slack/types";
import { formatDuration } from "../domain/duration.js";
import { escapeMrkdwn, escapeMrkdwnWithin } from "../domain/mrkdwn.js";
import type { ExtensionCardState } from "./extension-views.js";
import { type CardState, mention, mrkdwn, requestLine } from "./views.js";
import {
  ACTION_EXTEND_OPEN,
  ACTION_HOME_APPROVE,
  ACTION_HOME_CANCEL,
  ACTION_HOME_DENY,
  ACTION_HOME_EXTENSION_APPROVE,
  ACTION_HOME_EXTENSION_DENY,
  ACTION_HOME_REQUEST,
  ACTION_HOME_REVOKE,
} from "./wire.js";

export interface HomeData {
  grants: CardState[];
  pending: CardState[];
  awaiting: CardState[];
  extensions: ExtensionCardState[];
}

/** Slack's limit on a Home tab's blocks. */
export const HOME_MAX_BLOCKS = 100;
/** Blocks every Home has whatever it lists: header, Request access, three titles, three "more" notes. */
const FIXED_BLOCKS = 8;

const button = (actionId: string, text: string, value: string, style?: "primary" | "danger"): Button => ({
  type: "button",
  action_id: actionId,
  text: { type: "plain_text", text },
  value,
  ...(style ? { style } : {}),
});

/** One listed item: a line and its buttons (two blocks). */
interface Item {
  text: string;
  key: string;
  buttons: Button[];
}

const grantItem = (card: CardState): Item => ({
  text: requestLine(card),
  key: `grant:${card.id}`,
  buttons:
    card.status === "ACTIVE"
      ? [
          button(ACTION_HOME_REVOKE, "Revoke", card.id, "danger"),
          button(ACTION_EXTEND_OPEN, "Extend", card.id),
        ]
      : [button(ACTION_HOME_REVOKE, "Revoke", card.id, "danger")],
});

const pendingItem = (card: CardState): Item => ({
  text: requestLine(card),
  key: `pending:${card.id}`,
  buttons: [button(ACTION_HOME_CANCEL, "Cancel", card.id)],
});

const decisionItem = (card: CardState): Item => ({
  text:
    `${mention(card.requesterId)} requests *${escapeMrkdwn(card.resourceName)}* for ${formatDuration(card.durationSec)} ` +
    `(\`${card.id}\`): ${escapeMrkdwnWithin(card.reason, 500)}`,
  key: `decide:${card.id}`,
  buttons: [
    button(ACTION_HOME_APPROVE, "Approve", card.id, "primary"),
    button(ACTION_HOME_DENY, "Deny", card.id, "danger"),
  ],
});

const extensionItem = (card: ExtensionCardState): Item => ({
  text:
    `:hourglass_flowing_sand: *Extension* — ${mention(card.requesterId)} asks for ${formatDuration(card.durationSec)} more on ` +
    `*${escapeMrkdwn(card.resourceName)}* (\`${card.requestId}\`): ${escapeMrkdwnWithin(card.reason, 500)}`,
  key: `extension:${card.id}`,
  buttons: [
    button(ACTION_HOME_EXTENSION_APPROVE, "Approve", card.id, "primary"),
    button(ACTION_HOME_EXTENSION_DENY, "Deny", card.id, "danger"),
  ],
});

/**
 * The App Home: your grants (Revoke, Extend), your pending requests (Cancel), what awaits your
 * decision (Approve / Deny), and Request access. Never more than Slack's 100 blocks: items beyond
 * the budget are counted in a "… and N more" note that points to `/jit list`.
 */
export function homeView(data: HomeData): View {
  const sections: { title: string; items: Item[]; none: string }[] = [
    { title: "Your access", items: data.grants.map(grantItem), none: "No active grants." },
    { title: "Your pending requests", items: data.pending.map(pendingItem), none: "Nothing pending." },
    {
      title: "Awaiting your decision",
      items: [...data.awaiting.map(decisionItem), ...data.extensions.map(extensionItem)],
      none: "Nothing awaits your decision.",
    },
  ];
  let budget = Math.floor((HOME_MAX_BLOCKS - FIXED_BLOCKS) / 2);
  const blocks: KnownBlock[] = [
    { type: "header", text: { type: "plain_text", text: "jit — just-in-time access" } },
    {
      type: "actions",
      block_id: "home:request",
      elements: [button(ACTION_HOME_REQUEST, "Request access", "request", "primary")],
    },
  ];
  for (const section of sections) {
    blocks.push({ type: "section", text: mrkdwn(`*${section.title}*`) });
    const shown = section.items.slice(0, Math.max(0, budget));
    budget -= shown.length;
    if (section.items.length === 0) blocks.push({ type: "context", elements: [mrkdwn(section.none)] });
    for (const item of shown) {
      blocks.push({ type: "section", text: mrkdwn(item.text) });
      blocks.push({ type: "actions", block_id: item.key, elements: item.buttons });
    }
    const hidden = section.items.length - shown.length;
    if (hidden > 0) {
      blocks.push({
        type: "context",
        elements: [mrkdwn(`… and ${hidden} more: \`/jit list\` shows them all.`)],
      });
    }
  }
  return { type: "home", blocks };
}
