import { formatDuration } from "../domain/duration.js";
import type { ResourceCounts, SummaryData } from "../store/audit-summary.js";
import { formatCheckpoint } from "../store/audit-verify.js";

/**
 * The figures of an audit summary as label/value pairs, in reading order: Slack's fields and the
 * terminal's lines are both drawn from this list, so the two can never disagree.
 */
export function summaryFigures(data: SummaryData): [label: string, value: string][] {
  const { totals, revocations } = data;
  return [
    ["Requests filed", String(totals.filed)],
    ["Granted", String(totals.granted)],
    ["Denied", String(totals.denied)],
    ["Timed out", String(totals.timedOut)],
    ["Cancelled", String(totals.cancelled)],
    ["Failed", String(totals.failed)],
    ["Break-glass", String(totals.breakglass)],
    [
      "Median time to decision",
      data.medianDecisionSec === null ? "n/a" : formatDuration(Math.round(data.medianDecisionSec)),
    ],
    ["Grants active now", String(data.activeGrants)],
    ["Refused actions", String(data.refusals)],
    [
      "Revocations",
      `${revocations.done} done, ${revocations.late} late (over 60s after expiry), ${revocations.failing} still failing`,
    ],
  ];
}

/** How many resources the table shows; the rest are summed into one line. */
export const TABLE_ROWS = 8;

/** The resources table as fixed-width text (Slack shows it in a code block). */
export function resourceTable(resources: ResourceCounts[]): string {
  const header = ["resource", "filed", "granted", "denied", "other"];
  const rows = resources
    .slice(0, TABLE_ROWS)
    .map((r) => [
      r.resourceId,
      String(r.filed),
      String(r.granted),
      String(r.denied),
      String(r.timedOut + r.cancelled + r.failed),
    ]);
  const hidden = resources.length - rows.length;
  if (hidden > 0) rows.push([`(${hidden} more)`, "", "", "", ""]);
  if (rows.length === 0) rows.push(["(none)", "0", "0", "0", "0"]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

/** What to pass to `jit audit verify --checkpoint` to check this summary's chain head later. */
export function checkpointText(data: SummaryData): string {
  return formatCheckpoint(data.checkpoint);
}

/** The window in UTC, to the minute, for the terminal and the chart's title. */
export function windowText(data: SummaryData): string {
  const minute = (date: Date) => `${date.toISOString().slice(0, 16).replace("T", " ")}`;
  return `${minute(data.window.from)} to ${minute(data.window.to)} UTC`;
}

/** The terminal's `jit audit summary`: the same figures as the Slack post, in plain text. */
export function summaryPlainText(data: SummaryData, title: string): string {
  const figures = summaryFigures(data);
  const width = Math.max(...figures.map(([label]) => label.length));
  const attention = attentionLines(data).map((l) => `  ${l}`);
  return [
    `${title}: ${windowText(data)}`,
    "",
    ...figures.map(([label, value]) => `${label.padEnd(width)}  ${value}`),
    "",
    resourceTable(data.resources),
    "",
    `Most active requesters: ${
      data.requesters.length ? data.requesters.map((r) => `${r.userId} (${r.filed})`).join(", ") : "none"
    }`,
    ...(attention.length ? ["Needs a look:", ...attention] : []),
    `Chain checkpoint: ${checkpointText(data)}`,
    "",
  ].join("\n");
}

/** Request ids worth a look, one line per kind; ids only (they come from our own database). */
export function attentionLines(data: SummaryData, id: (requestId: string) => string = (x) => x): string[] {
  const { breakglass, failed, failing } = data.attention;
  const kinds: [string, string[]][] = [
    ["break-glass", breakglass],
    ["failed grants", failed],
    ["revocations still failing", failing],
  ];
  return kinds
    .filter(([, ids]) => ids.length > 0)
    .map(([label, ids]) => `${label}: ${ids.map(id).join(", ")}`);
}
