import { ErrorCode, type JobsOptions, type Queue } from "bullmq";

/**
 * Every job jit enqueues, with a deterministic id: enqueuing the same work twice is a no-op while
 * the first job exists, and the handlers themselves check PostgreSQL before acting, so a job that
 * does run twice changes nothing the second time.
 */
export type JobData =
  | { name: "grant"; grantId: string }
  | { name: "revoke"; grantId: string }
  | { name: "timeout"; requestId: string }
  | { name: "cards"; requestId: string }
  | { name: "notify"; requestId: string; event: string }
  | { name: "reconcile" }
  | { name: "audit-summary" }
  | { name: "audit-checkpoint" }
  | { name: "extend"; extensionId: string }
  | { name: "extension-cards"; extensionId: string }
  | { name: "extension-notify"; extensionId: string; event: string }
  | { name: "extension-timeout"; extensionId: string }
  | { name: "remind"; grantId: string; n: number }
  | { name: "breakglass-alert"; requestId: string; kind: "used" | "repeat" | "flagged"; n: number }
  | { name: "approver-remind"; requestId: string; k: number };

export const jobId = {
  grant: (grantId: string) => `grant-${grantId}`,
  revoke: (grantId: string) => `revoke-${grantId}`,
  timeout: (requestId: string) => `timeout-${requestId}`,
  notify: (requestId: string, event: string) => `notify-${requestId}-${event}`,
  extend: (extensionId: string) => `extend-${extensionId}`,
  extensionNotify: (extensionId: string, event: string) => `extension-notify-${extensionId}-${event}`,
  extensionTimeout: (extensionId: string) => `extension-timeout-${extensionId}`,
  /** The expiry reminder for a grant's `n`th expiry (0: the original, n: after n extensions). */
  remind: (grantId: string, n: number) => `remind-${grantId}-${n}`,
  approverRemind: (requestId: string, k: number) => `approver-remind-${requestId}-${k}`,
  breakglassAlert: (requestId: string, kind: string, n: number) =>
    `breakglass-alert-${requestId}-${kind}-${n}`,
  /** The reconciler's card repair: one per request at a time, however long Slack stays down. */
  cardsRepair: (requestId: string) => `cards-repair-${requestId}`,
};

/** Retried "forever" with a capped backoff: a revocation must never give up. */
export const FOREVER = 1_000_000;
export const CAPPED_BACKOFF = "capped";

/**
 * Messages wait behind grants and revocations: BullMQ runs jobs without a priority first, so a
 * burst of card updates never delays access being granted or taken away.
 */
const MESSAGE_PRIORITY = 10;

const retryForever: JobsOptions = { attempts: FOREVER, backoff: { type: CAPPED_BACKOFF } };
const retrySome: JobsOptions = { attempts: 8, backoff: { type: CAPPED_BACKOFF } };

export function enqueueGrant(queue: Queue, grantId: string) {
  return queue.add("grant", { name: "grant", grantId }, { ...retrySome, jobId: jobId.grant(grantId) });
}

/**
 * Makes sure a grant job exists: the reconciler's repair for an approval whose job was lost or
 * failed for good (a failed job keeps its id, so adding it again would be a no-op).
 */
export function ensureGrantJob(queue: Queue, grantId: string): Promise<void> {
  return ensureJob(queue, jobId.grant(grantId), () => enqueueGrant(queue, grantId));
}

/** Makes sure the job with this deterministic id exists: added when missing, retried when failed. */
export async function ensureJob(queue: Queue, id: string, add: () => Promise<unknown>): Promise<void> {
  const existing = await queue.getJob(id);
  if (!existing) {
    await add();
    return;
  }
  if ((await existing.getState()) === "failed") await existing.retry("failed");
}

export interface ScheduleOptions {
  /**
   * Leave a revocation that is waiting out its retry backoff alone (the reconciler): promoting it
   * every pass would hammer a provider that is down.
   */
  keepBackoff?: boolean;
}

/**
 * Makes sure a revocation job exists and runs at `at` ("now" for early revokes and the reconciler),
 * whatever state an earlier job with the same id is in.
 */
export async function scheduleRevoke(
  queue: Queue,
  grantId: string,
  at: Date | "now",
  options: ScheduleOptions = {},
): Promise<void> {
  // The job may change state between our look and our move (a worker picks it up, another replica
  // promotes it): then look again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await scheduleRevokeOnce(queue, grantId, at, options);
    } catch (error) {
      if ((error as { code?: number }).code !== ErrorCode.JobNotInState || attempt >= 5) throw error;
    }
  }
}

async function scheduleRevokeOnce(
  queue: Queue,
  grantId: string,
  at: Date | "now",
  options: ScheduleOptions,
): Promise<void> {
  const id = jobId.revoke(grantId);
  const delay = at === "now" ? 0 : Math.max(0, at.getTime() - Date.now());
  const existing = await queue.getJob(id);
  const state = existing ? await existing.getState() : "missing";
  if (existing && state === "delayed") {
    if (options.keepBackoff && existing.attemptsMade > 0) return; // a retry waiting out its backoff
    const runsAt = existing.timestamp + (existing.delay ?? 0);
    if (delay === 0) await existing.promote();
    else if (Math.abs(runsAt - (Date.now() + delay)) > 1_000) await existing.changeDelay(delay);
    return;
  }
  if (existing && state === "failed") return existing.retry("failed");
  if (state === "waiting" || state === "active" || state === "prioritized") return;
  // Completed jobs keep their id for a while; a finished job must not swallow a new schedule.
  if (existing && state === "completed") await existing.remove().catch(() => undefined);
  await queue.add("revoke", { name: "revoke", grantId }, { ...retryForever, jobId: id, delay });
}

export function scheduleTimeout(queue: Queue, requestId: string, at: Date) {
  return queue.add(
    "timeout",
    { name: "timeout", requestId },
    { ...retrySome, jobId: jobId.timeout(requestId), delay: Math.max(0, at.getTime() - Date.now()) },
  );
}

/**
 * Brings every copy of a request's approval card up to date. Not deduplicated by id: each run
 * renders the current state, and runs for one request are serialized by a Redis mutex.
 */
export function cardSyncJob(requestId: string) {
  return {
    name: "cards",
    data: { name: "cards", requestId } satisfies JobData,
    opts: { ...retrySome, priority: MESSAGE_PRIORITY },
  };
}

/** One DM to the requester per lifecycle event (granted DMs, which carry secrets, are sent inline). */
export function notifyJob(requestId: string, event: string) {
  return {
    name: "notify",
    data: { name: "notify", requestId, event } satisfies JobData,
    opts: { ...retrySome, jobId: jobId.notify(requestId, event), priority: MESSAGE_PRIORITY },
  };
}

export function enqueueCardSync(queue: Queue, requestId: string) {
  const job = cardSyncJob(requestId);
  return queue.add(job.name, job.data, job.opts);
}

export function enqueueNotify(queue: Queue, requestId: string, event: string) {
  const job = notifyJob(requestId, event);
  return queue.add(job.name, job.data, job.opts);
}

/**
 * Makes sure a job with the given (deterministic) id will run, for the reconciler's repairs: a job
 * that failed for good is retried with its attempts reset, a finished one is replaced, and one
 * still waiting, delayed or running is left alone.
 */
export async function requeue(
  queue: Queue,
  job: { name: string; data: JobData; opts: JobsOptions & { jobId: string } },
): Promise<void> {
  const existing = await queue.getJob(job.opts.jobId);
  const state = existing ? await existing.getState() : "missing";
  if (existing && state === "failed") {
    return existing.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
  }
  // Completed jobs keep their id for a while; a finished job must not swallow the repair.
  if (existing && state === "completed") await existing.remove().catch(() => undefined);
  await queue.add(job.name, job.data, job.opts);
}

/** The reconciler's card repair for one request (see `requeue`). */
export function cardRepairJob(requestId: string) {
  const job = cardSyncJob(requestId);
  return { ...job, opts: { ...job.opts, jobId: jobId.cardsRepair(requestId) } };
}

/** Applies an approved extension (provider first, then the clock); retried like a grant. */
export function enqueueExtend(queue: Queue, extensionId: string) {
  return queue.add(
    "extend",
    { name: "extend", extensionId },
    { ...retrySome, jobId: jobId.extend(extensionId) },
  );
}

export function enqueueExtensionCards(queue: Queue, extensionId: string) {
  return queue.add(
    "extension-cards",
    { name: "extension-cards", extensionId },
    { ...retrySome, priority: MESSAGE_PRIORITY },
  );
}

export function enqueueExtensionNotify(queue: Queue, extensionId: string, event: string) {
  return queue.add(
    "extension-notify",
    { name: "extension-notify", extensionId, event },
    { ...retrySome, jobId: jobId.extensionNotify(extensionId, event), priority: MESSAGE_PRIORITY },
  );
}

export function scheduleExtensionTimeout(queue: Queue, extensionId: string, at: Date) {
  return queue.add(
    "extension-timeout",
    { name: "extension-timeout", extensionId },
    {
      ...retrySome,
      jobId: jobId.extensionTimeout(extensionId),
      delay: Math.max(0, at.getTime() - Date.now()),
    },
  );
}

/**
 * The grantee's reminder before the `n`th expiry. The deterministic id makes scheduling it twice
 * (two replicas, a retried job) one job; the job itself checks a marker in PostgreSQL before it DMs.
 */
export function scheduleReminder(queue: Queue, grantId: string, n: number, at: Date) {
  return queue.add(
    "remind",
    { name: "remind", grantId, n },
    { ...retrySome, jobId: jobId.remind(grantId, n), delay: Math.max(0, at.getTime() - Date.now()) },
  );
}

/** A break-glass alert (its use, the `n`th repeat while unreviewed, or a flag): one job per id. */
export function scheduleBreakglassAlert(
  queue: Queue,
  requestId: string,
  kind: "used" | "repeat" | "flagged",
  n: number,
  at: Date,
) {
  return queue.add(
    "breakglass-alert",
    { name: "breakglass-alert", requestId, kind, n },
    {
      ...retrySome,
      jobId: jobId.breakglassAlert(requestId, kind, n),
      delay: Math.max(0, at.getTime() - Date.now()),
    },
  );
}

/** The `k`th reminder to a request's approvers who have not voted; one job per id. */
export function scheduleApproverReminder(queue: Queue, requestId: string, k: number, at: Date) {
  return queue.add(
    "approver-remind",
    { name: "approver-remind", requestId, k },
    {
      ...retrySome,
      jobId: jobId.approverRemind(requestId, k),
      delay: Math.max(0, at.getTime() - Date.now()),
      priority: MESSAGE_PRIORITY,
    },
  );
}
