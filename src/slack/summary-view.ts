import type { KnownBlock } from "@slack/types";
import { attentionLines, checkpointText, resourceTable, summaryFigures } from "../app/summary-figures.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import type { SummaryData } from "../store/audit-summary.js";
import { formatCheckpoint } from "../store/audit-verify.js";
import { mrkdwn, slackDate } from "./views.js";

/** Slack allows 10 fields per section. */
const FIELDS_PER_SECTION = 10;

/**
 * The audit summary in Block Kit: a header, the window, the figures as fields, a short resources
 * table, the busiest requesters, request ids worth a look, and the chain checkpoint. Request ids
 * are shown as code: jit has no web page to link them to, and `/jit status <id>` opens them.
 */
export function summaryBlocks(data: SummaryData, title: string): KnownBlock[] {
  const figures = summaryFigures(data);
  const fields = figures.map(([label, value]) => mrkdwn(`*${label}*\n${escapeMrkdwn(value)}`));
  const blocks: KnownBlock[] = [
    { type: "header", text: { type: "plain_text", text: title } },
    {
      type: "context",
      elements: [mrkdwn(`${slackDate(data.window.from)} → ${slackDate(data.window.to)}`)],
    },
  ];
  for (let i = 0; i < fields.length; i += FIELDS_PER_SECTION) {
    blocks.push({ type: "section", fields: fields.slice(i, i + FIELDS_PER_SECTION) });
  }
  blocks.push(
    {
      type: "section",
      text: mrkdwn(`*By resource*\n\`\`\`${escapeMrkdwn(resourceTable(data.resources))}\`\`\``),
    },
    {
      type: "section",
      text: mrkdwn(
        `*Most active requesters:* ${
          data.requesters.length
            ? data.requesters.map((r) => `<@${r.userId}> (${r.filed})`).join(", ")
            : "none"
        }`,
      ),
    },
  );
  const attention = attentionLines(data, (id) => `\`${id}\``);
  if (attention.length > 0) {
    blocks.push({
      type: "section",
      text: mrkdwn(`*Needs a look* (\`/jit status <id>\`)\n${attention.map((l) => `• ${l}`).join("\n")}`),
    });
  }
  blocks.push(checkpointContext(data));
  return blocks;
}

function checkpointContext(data: SummaryData): KnownBlock {
  return {
    type: "context",
    elements: [
      mrkdwn(
        `Chain checkpoint \`${checkpointText(data)}\` — check it later with ` +
          `\`jit audit verify --checkpoint ${checkpointText(data)}\``,
      ),
    ],
  };
}

/** The notification text (and the whole message where blocks are not shown). */
export function summaryFallbackText(data: SummaryData, title: string): string {
  const t = data.totals;
  return (
    `${title}: ${t.filed} filed, ${t.granted} granted, ${t.denied} denied, ${t.timedOut} timed out, ` +
    `${t.cancelled} cancelled, ${t.failed} failed, ${t.breakglass} break-glass. ` +
    `Checkpoint ${formatCheckpoint(data.checkpoint)}`
  );
}

/** The daily post that anchors the chain when no summary schedule is set. */
export function checkpointPost(checkpoint: { seq: bigint; hash: string }, at: Date) {
  const text = formatCheckpoint(checkpoint);
  return {
    text: `Audit chain checkpoint ${text}`,
    blocks: [
      {
        type: "section",
        text: mrkdwn(
          `:anchor: *Audit chain checkpoint* at ${slackDate(at)}\n\`${text}\`\n` +
            `Check it later with \`jit audit verify --checkpoint ${text}\``,
        ),
      },
    ] satisfies KnownBlock[],
  };
}
