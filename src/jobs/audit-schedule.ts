import type { Job, Queue } from "bullmq";
import { postCheckpoint, postScheduledSummary } from "../app/audit-summary.js";
import type { Deps } from "../app/deps.js";
import { CAPPED_BACKOFF, type JobData } from "./schedule.js";

/**
 * The audit channel's schedule, as BullMQ job schedulers: `audit.schedule` posts a summary at each
 * tick (in `audit.timezone`); without one, a checkpoint is posted daily at midnight there, so the
 * chain is always anchored outside the database. A scheduler creates one job per tick with the id
 * `repeat:<scheduler>:<tick ms>`, so however many replicas run there is one job per tick, and the
 * post itself is keyed by the tick in PostgreSQL (see postSummary), so a retried job posts once.
 * A tick that passes while every worker is down stays in Redis as an overdue job and runs when a
 * worker starts: posted late, once.
 */
export const SUMMARY_SCHEDULER_ID = "audit-summary";
export const CHECKPOINT_SCHEDULER_ID = "audit-checkpoint";
export const DAILY_CHECKPOINT_PATTERN = "0 0 * * *";

interface Wanted {
  id: string;
  pattern: string;
  data: JobData;
}

function wanted(deps: Deps): Wanted | undefined {
  const { channel, schedule } = deps.policy.audit;
  if (!channel) return undefined;
  return schedule
    ? { id: SUMMARY_SCHEDULER_ID, pattern: schedule, data: { name: "audit-summary" } }
    : { id: CHECKPOINT_SCHEDULER_ID, pattern: DAILY_CHECKPOINT_PATTERN, data: { name: "audit-checkpoint" } };
}

/**
 * Makes the schedulers match the policy. An unchanged scheduler is left alone: upserting it again
 * would replace its pending job with the next tick after now, and so drop a tick that is due (or
 * overdue after downtime) but not yet run.
 */
export async function ensureAuditSchedulers(deps: Deps, queue: Queue = deps.queue): Promise<void> {
  const want = wanted(deps);
  const tz = deps.policy.audit.timezone;
  for (const id of [SUMMARY_SCHEDULER_ID, CHECKPOINT_SCHEDULER_ID]) {
    if (id !== want?.id && (await queue.getJobScheduler(id))) await queue.removeJobScheduler(id);
  }
  if (!want) return;
  const existing = await queue.getJobScheduler(want.id);
  if (existing?.pattern === want.pattern && existing.tz === tz) return;
  await queue.upsertJobScheduler(
    want.id,
    { pattern: want.pattern, tz },
    { name: want.data.name, data: want.data, opts: { attempts: 8, backoff: { type: CAPPED_BACKOFF } } },
  );
}

/** The tick a scheduler's job is for (its id ends with it). */
export function tickOf(job: Job): Date {
  const millis = job.opts.prevMillis ?? Number(String(job.id).split(":").at(-1));
  if (!Number.isFinite(millis)) throw new Error(`job ${job.id} carries no tick`);
  return new Date(millis);
}

export async function runAuditJob(deps: Deps, job: Job<JobData>): Promise<void> {
  const tick = tickOf(job);
  if (job.data.name === "audit-summary") await postScheduledSummary(deps, tick);
  else await postCheckpoint(deps, `checkpoint:${tick.getTime()}`, tick);
}
