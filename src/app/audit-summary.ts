import { randomUUID } from "node:crypto";
import { AUDIT_WINDOWS, type AuditWindow } from "../domain/command.js";
import { parseDuration } from "../domain/duration.js";
import { checkpointPost, summaryBlocks, summaryFallbackText } from "../slack/summary-view.js";
import { uploadPng } from "../slack/upload.js";
import { readSummary, type SummaryData, type SummaryWindow } from "../store/audit-summary.js";
import type { Checkpoint } from "../store/audit-verify.js";
import type { Deps } from "./deps.js";
import { type Outcome, ok, refuse } from "./result.js";
import { renderChart } from "./summary-chart.js";

/**
 * Audit summaries posted to `audit.channel`, and the daily checkpoint. Every post is recorded in
 * AuditSummary with the chain head it shows (so `jit audit verify` can check it) under a key that
 * makes it happen once: a scheduled tick, retried or run by two replicas, finds its row posted.
 */
export type SummaryKind = "manual" | "scheduled" | "checkpoint";

export interface Posted {
  channel: string;
  ts: string;
  data?: SummaryData;
}

export function windowSeconds(window: AuditWindow): number {
  const parsed = parseDuration(window);
  if (!parsed.ok) throw new Error(`bad audit window ${window}`);
  return parsed.seconds;
}

export function lastWindow(seconds: number, now = new Date()): SummaryWindow {
  return { from: new Date(now.getTime() - seconds * 1000), to: now };
}

export function summaryTitle(kind: SummaryKind, window: SummaryWindow): string {
  const seconds = (window.to.getTime() - window.from.getTime()) / 1000;
  const named = AUDIT_WINDOWS.find((w) => windowSeconds(w) === seconds);
  const span = named ?? `${Math.round(seconds / 3600)}h`;
  return `${kind === "scheduled" ? "Scheduled audit summary" : "Audit summary"} · last ${span}`;
}

/** A summary of `window`, posted (text first, then the chart) unless `key` was posted already. */
export async function postSummary(
  deps: Deps,
  options: { key: string; kind: "manual" | "scheduled"; window: SummaryWindow; requestedBy?: string },
): Promise<Posted | "already-posted"> {
  const channel = auditChannel(deps);
  if (await alreadyPosted(deps, options.key)) return "already-posted";
  const data = await readSummary(deps.db, options.window);
  const title = summaryTitle(options.kind, options.window);
  await recordAttempt(deps, { ...options, channel, checkpoint: data.checkpoint });
  const posted = await deps.messenger.post(
    channel,
    summaryFallbackText(data, title),
    summaryBlocks(data, title),
  );
  await recordPosted(deps, options.key, posted.ts);
  await postChart(deps, channel, data, title);
  return { ...posted, data };
}

/**
 * `/jit audit [window]`: admins only; anyone else is refused and nothing is posted. The answer is
 * mrkdwn made by jit alone (a channel link), so handlers send it as it is.
 */
export async function requestSummary(deps: Deps, userId: string, window: AuditWindow): Promise<Outcome> {
  if (!deps.access.isAdmin(userId)) {
    return refuse("Only jit admins can post audit summaries (the policy's `admins`). Ask one of them.");
  }
  if (!deps.policy.audit.channel) {
    return refuse("There is no audit channel to post to: set `audit.channel` in the policy file.");
  }
  const posted = await postSummary(deps, {
    key: `manual:${randomUUID()}`,
    kind: "manual",
    window: lastWindow(windowSeconds(window)),
    requestedBy: userId,
  });
  if (posted === "already-posted") throw new Error("a fresh key was already posted");
  return ok(`Posted the audit summary for the last ${window} to <#${posted.channel}>.`);
}

/** The daily anchor when no summary schedule is set: just the chain head. */
export async function postCheckpoint(deps: Deps, key: string, at: Date): Promise<Posted | "already-posted"> {
  const channel = auditChannel(deps);
  if (await alreadyPosted(deps, key)) return "already-posted";
  const head = await deps.db.auditHead.findUniqueOrThrow({ where: { id: 1 } });
  const checkpoint = { seq: head.seq, hash: head.hash };
  await recordAttempt(deps, { key, kind: "checkpoint", window: { from: at, to: at }, channel, checkpoint });
  const message = checkpointPost(checkpoint, at);
  const posted = await deps.messenger.post(channel, message.text, message.blocks);
  await recordPosted(deps, key, posted.ts);
  return posted;
}

/**
 * The scheduled summary for one tick of `audit.schedule`: the window since the previous scheduled
 * post (or the 24 hours before the first one) up to the tick, keyed by the tick so it posts once.
 */
export async function postScheduledSummary(deps: Deps, tick: Date): Promise<Posted | "already-posted"> {
  const previous = await deps.db.auditSummary.findFirst({
    where: { kind: "scheduled", windowTo: { lt: tick } },
    orderBy: { windowTo: "desc" },
  });
  const from = previous?.windowTo ?? new Date(tick.getTime() - 86_400_000);
  return postSummary(deps, {
    key: `schedule:${tick.getTime()}`,
    kind: "scheduled",
    window: { from, to: tick },
  });
}

function auditChannel(deps: Deps): string {
  const channel = deps.policy.audit.channel;
  if (!channel) throw new Error("audit.channel is not set in the policy file");
  return channel;
}

async function alreadyPosted(deps: Deps, key: string): Promise<boolean> {
  const row = await deps.db.auditSummary.findUnique({ where: { key } });
  return row?.ts != null;
}

/** Recorded before posting: a post that Slack took but whose answer was lost still has its row. */
async function recordAttempt(
  deps: Deps,
  row: {
    key: string;
    kind: SummaryKind;
    window: SummaryWindow;
    channel: string;
    checkpoint: Checkpoint;
    requestedBy?: string;
  },
): Promise<void> {
  const fields = {
    windowFrom: row.window.from,
    windowTo: row.window.to,
    checkpointSeq: row.checkpoint.seq,
    checkpointHash: row.checkpoint.hash,
    channel: row.channel,
  };
  await deps.db.auditSummary.upsert({
    where: { key: row.key },
    create: { key: row.key, kind: row.kind, requestedBy: row.requestedBy ?? null, ...fields },
    update: fields,
  });
}

async function recordPosted(deps: Deps, key: string, ts: string): Promise<void> {
  await deps.db.auditSummary.update({ where: { key }, data: { ts, postedAt: new Date() } });
}

/** The chart follows the text; if it cannot be drawn or uploaded, the text summary stands alone. */
async function postChart(deps: Deps, channel: string, data: SummaryData, title: string): Promise<void> {
  try {
    const bytes = await renderChart(data, title);
    await uploadPng(deps.slack, {
      channel,
      filename: `jit-audit-${data.window.to.toISOString().slice(0, 16).replace(/[:T]/g, "-")}.png`,
      title: `${title}: requests by outcome`,
      altText: `Bar chart of requests by outcome over ${title.toLowerCase()}`,
      bytes,
    });
  } catch (error) {
    deps.logger.warn(
      { err: (error as Error).message, channel },
      "could not upload the audit summary's chart",
    );
  }
}
