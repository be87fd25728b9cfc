import { DelayedError, type Job, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { runApproverReminder } from "../app/approver-reminders.js";
import { runBreakglassAlert } from "../app/breakglass.js";
import { syncCards } from "../app/cards.js";
import type { Deps } from "../app/deps.js";
import { runReminder } from "../app/expiry-reminder.js";
import { runExtend } from "../app/extension-apply.js";
import { runExtensionNotify, runExtensionTimeout, syncExtensionCards } from "../app/extension-followups.js";
import { runGrant } from "../app/grant.js";
import { runNotify } from "../app/notify.js";
import { reconcile } from "../app/reconcile.js";
import { runRevoke } from "../app/revoke.js";
import { runTimeout } from "../app/timeout.js";
import { ensureAuditSchedulers, runAuditJob } from "./audit-schedule.js";
import { QUEUE_NAME } from "./queue.js";
import type { JobData } from "./schedule.js";

export const RECONCILER_ID = "reconciler";

export interface Workers {
  close(): Promise<void>;
}

/** Thin dispatch: parse the job, call one use-case. */
async function process(deps: Deps, job: Job<JobData>, token?: string): Promise<void> {
  const data = job.data;
  switch (data.name) {
    case "grant":
      return runGrant(deps, data.grantId, { isLast: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) });
    case "revoke": {
      const outcome = await runRevoke(deps, data.grantId);
      if (outcome.kind === "not-due") {
        await job.moveToDelayed(outcome.at.getTime(), token);
        throw new DelayedError();
      }
      return;
    }
    case "timeout":
      return runTimeout(deps, data.requestId);
    case "cards":
      if (!(await syncCards(deps, data.requestId))) {
        // Another run is updating this request's cards; run again right after it.
        await job.moveToDelayed(Date.now() + 250, token);
        throw new DelayedError();
      }
      return;
    case "notify":
      return runNotify(deps, data.requestId, data.event);
    case "reconcile":
      await reconcile(deps);
      return;
    case "audit-summary":
    case "audit-checkpoint":
      return runAuditJob(deps, job);
    case "extend":
      return runExtend(deps, data.extensionId, { isLast: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) });
    case "extension-cards":
      if (!(await syncExtensionCards(deps, data.extensionId))) {
        await job.moveToDelayed(Date.now() + 250, token);
        throw new DelayedError();
      }
      return;
    case "extension-notify":
      return runExtensionNotify(deps, data.extensionId, data.event);
    case "extension-timeout":
      return runExtensionTimeout(deps, data.extensionId);
    case "remind":
      return runReminder(deps, data.grantId, data.n);
    case "approver-remind":
      return runApproverReminder(deps, data.requestId, data.k);
    case "breakglass-alert":
      return runBreakglassAlert(deps, data.requestId, data.kind, data.n);
  }
}

/**
 * Starts the lifecycle worker and the reconciler's job scheduler. The scheduler lives in Redis, so
 * a local timer re-asserts it: a flushed Redis gets its reconciler back within one interval.
 */
export async function startWorkers(deps: Deps, connection: Redis): Promise<Workers> {
  const { tuning } = deps;
  const worker = new Worker<JobData>(QUEUE_NAME, (job, token) => process(deps, job, token), {
    connection,
    prefix: deps.env.JIT_QUEUE_PREFIX,
    concurrency: tuning.workerConcurrency,
    // Shorter than BullMQ's 30 s defaults: a revocation held by a crashed worker must move on fast.
    lockDuration: tuning.lockDurationMs,
    stalledInterval: tuning.stalledIntervalMs,
    maxStalledCount: 100,
    settings: {
      // Doubling from retryBaseMs, with jitter so replicas do not retry in step, never above the cap:
      // a revocation whose provider has recovered is retried within retryCapMs.
      backoffStrategy: (attemptsMade: number) => {
        const delay = tuning.retryBaseMs * 2 ** Math.max(0, attemptsMade - 1);
        return Math.round(Math.min(tuning.retryCapMs, delay * (0.8 + Math.random() * 0.4)));
      },
    },
  });
  worker.on("failed", (job, error) =>
    deps.logger.warn(
      { job: job?.id, name: job?.name, attempts: job?.attemptsMade, err: error.message },
      "job failed",
    ),
  );
  worker.on("error", (error) => deps.logger.error({ err: error.message }, "worker error"));
  const ensureReconciler = () =>
    Promise.all([
      deps.queue
        .upsertJobScheduler(
          RECONCILER_ID,
          { every: tuning.reconcileEveryMs },
          { name: "reconcile", data: { name: "reconcile" } },
        )
        .catch((error) => deps.logger.error({ err: error.message }, "could not schedule the reconciler")),
      ensureAuditSchedulers(deps).catch((error) =>
        deps.logger.error({ err: error.message }, "could not schedule the audit channel's posts"),
      ),
    ]);
  await ensureReconciler();
  const timer = setInterval(ensureReconciler, tuning.reconcileEveryMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await worker.close();
      await deps.providers.close();
      await deps.locks.close();
      connection.disconnect();
    },
  };
}
