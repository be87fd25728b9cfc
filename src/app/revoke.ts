import { GRANTED_STATES } from "../domain/lifecycle.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import { cardSyncJob, notifyJob } from "../jobs/schedule.js";
import { appendAudit, appendAuditMany } from "../store/audit.js";
import type { Prisma } from "../store/db.js";
import type { Deps } from "./deps.js";
import { withGrantLock } from "./grant-lock.js";
import { providerContext, safeErrorMessage } from "./provider-context.js";
import { transitionMany } from "./transition.js";

/** What the revoke job should do next. */
export type RevokeOutcome = { kind: "done" } | { kind: "not-due"; at: Date };

/** Grants past their expiry that one revoke job also ends, so a burst costs a few transactions. */
const SWEEP_SIZE = 48;
/**
 * Provider calls in flight per sweep. Kept small: the gain of sweeping is fewer transactions, and
 * a flood of parallel calls would make slow providers time out (and get the revoke twice).
 */
const SWEEP_PARALLELISM = 8;

/** Promise.allSettled over `items`, at most `limit` at a time, results in order. */
async function settleWithLimit<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<PromiseSettledResult<void>[]> {
  const results: PromiseSettledResult<void>[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: "fulfilled", value: await fn(items[index] as T) };
      } catch (reason) {
        results[index] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

type GrantWithRequest = Prisma.GrantGetPayload<{ include: { request: true } }>;

interface Swept {
  ended: { grant: GrantWithRequest; event: "revoke" | "expire" | null }[];
  failed: { grant: GrantWithRequest; error: unknown }[];
}

function isDue(grant: GrantWithRequest, now: number): boolean {
  return (
    grant.revokeRequestedAt !== null ||
    !GRANTED_STATES.includes(grant.request.status) ||
    (grant.expiresAt !== null && grant.expiresAt.getTime() <= now)
  );
}

/**
 * The revoke job. PostgreSQL is the truth: the job ends access when the grant is past its expiry,
 * was revoked early, or failed half-way; otherwise it asks to be run again at the expiry (an
 * extension may have moved it). A grant is marked ended only after its provider confirms.
 * Under its grant's lock, the job also sweeps up to SWEEP_SIZE other expired grants that nobody
 * else holds: their providers are called a few at a time and they end in the same transaction.
 */
export async function runRevoke(deps: Deps, grantId: string): Promise<RevokeOutcome> {
  const [peek] = await deps.db.$queryRaw<{ ended: boolean }[]>`
    SELECT "endedAt" IS NOT NULL AS ended FROM "Grant" WHERE id = ${grantId}`;
  if (!peek || peek.ended) return { kind: "done" }; // gone, or ended by another job's sweep
  let outcome: RevokeOutcome | Swept;
  try {
    outcome = await withGrantLock(deps, grantId, (tx) => sweep(deps, tx, grantId));
  } catch (error) {
    await recordRevokeFailure(deps, grantId, safeErrorMessage(error));
    throw error;
  }
  if ("kind" in outcome) return outcome;
  await afterSweep(deps, outcome);
  const own = outcome.failed.find((f) => f.grant.id === grantId);
  if (own) throw own.error;
  return { kind: "done" };
}

async function sweep(
  deps: Deps,
  tx: Prisma.TransactionClient,
  grantId: string,
): Promise<RevokeOutcome | Swept> {
  const now = Date.now();
  const candidates = await tx.$queryRaw<{ id: string }[]>`
    SELECT id FROM "Grant"
    WHERE "endedAt" IS NULL AND id <> ${grantId}
      AND "expiresAt" <= (${new Date(now).toISOString()}::timestamptz AT TIME ZONE 'UTC')
    ORDER BY hashtext(id || ${grantId}) LIMIT ${SWEEP_SIZE}`; // each job its own order: sweeps spread out
  // Only grants no other job holds: a try-lock never waits, so sweeps cannot deadlock each other,
  // and one being granted right now is left to its own revoke job.
  const others = candidates.length
    ? await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM unnest(${candidates.map((c) => c.id)}::text[]) AS id
        WHERE pg_try_advisory_xact_lock(hashtext('grant:' || id))`
    : [];
  const grants = await tx.grant.findMany({
    where: { id: { in: [grantId, ...others.map((o) => o.id)] }, endedAt: null },
    include: { request: true },
  });
  const own = grants.find((g) => g.id === grantId);
  if (!own) return { kind: "done" };
  if (!isDue(own, now)) {
    return { kind: "not-due", at: own.expiresAt ?? new Date(now + deps.tuning.reconcileEveryMs) };
  }
  const due = grants.filter((g) => isDue(g, now));
  const results = await settleWithLimit(due, SWEEP_PARALLELISM, async (grant) => {
    const provider = deps.providers.forResource(grant.request.resourceId);
    await provider.revoke(await providerContext(deps, grant.request, grant));
  });
  const swept: Swept = { ended: [], failed: [] };
  results.forEach((result, i) => {
    const grant = due[i] as GrantWithRequest;
    const providerName = deps.access.resource(grant.request.resourceId)?.provider ?? "unknown";
    const ok = result.status === "fulfilled";
    deps.metrics.providerCalls.inc({
      provider: providerName,
      operation: "revoke",
      result: ok ? "ok" : "error",
    });
    if (ok) {
      const granted = GRANTED_STATES.includes(grant.request.status);
      swept.ended.push({ grant, event: granted ? (grant.revokeRequestedAt ? "revoke" : "expire") : null });
    } else {
      swept.failed.push({ grant, error: result.reason });
    }
  });
  if (swept.ended.length === 0) return swept;
  const endedAt = new Date();
  await tx.$executeRaw`
    UPDATE "Grant" SET "endedAt" = (${endedAt.toISOString()}::timestamptz AT TIME ZONE 'UTC'),
      "updatedAt" = (now() AT TIME ZONE 'UTC')
    WHERE id = ANY(${swept.ended.map((e) => e.grant.id)})`;
  const details = (grant: GrantWithRequest) => ({
    grantId: grant.id,
    lagMs: grant.expiresAt ? endedAt.getTime() - grant.expiresAt.getTime() : null,
    reason: grant.revokeReason,
    failures: grant.revokeFailures,
  });
  const moved = await transitionMany(
    tx,
    swept.ended.flatMap(({ grant, event }) =>
      event
        ? [
            {
              request: grant.request,
              event,
              actor: grant.revokeRequestedBy ?? "jit",
              details: details(grant),
            },
          ]
        : [],
    ),
  );
  const cleanedUp = swept.ended.filter((e) => e.event === null);
  await appendAuditMany(
    tx,
    cleanedUp.map(({ grant }) => ({
      actor: "jit",
      action: "grant.cleaned-up",
      requestId: grant.request.id,
      resourceId: grant.request.resourceId,
      details: details(grant),
    })),
  );
  // A request that had already left its granted state keeps it; its grant is simply ended.
  swept.ended = swept.ended.map((e) =>
    e.event && !moved.has(e.grant.request.id) ? { ...e, event: null } : e,
  );
  for (const { grant, event } of swept.ended) {
    if (event === "expire" && grant.expiresAt) {
      deps.metrics.revocationLag.observe(Math.max(0, endedAt.getTime() - grant.expiresAt.getTime()) / 1000);
    }
  }
  return swept;
}

/** After commit: failures counted (and alerted), requesters told, cards updated, recoveries posted. */
async function afterSweep(deps: Deps, swept: Swept): Promise<void> {
  for (const { grant, error } of swept.failed)
    await recordRevokeFailure(deps, grant.id, safeErrorMessage(error));
  // One round trip to Redis for the whole sweep's messages.
  await deps.queue.addBulk(
    swept.ended.flatMap(({ grant, event }) => {
      if (!event) return [];
      deps.metrics.transitions.inc({ status: event === "revoke" ? "revoked" : "expired" });
      return [
        notifyJob(grant.request.id, event === "revoke" ? "revoked" : "expired"),
        cardSyncJob(grant.request.id),
      ];
    }),
  );
  for (const { grant } of swept.ended) {
    const request = grant.request;
    if (grant.alertedAt && deps.policy.audit.channel) {
      await deps.messenger.post(
        deps.policy.audit.channel,
        `:white_check_mark: ${request.id}: access to ${request.resourceId} for <@${request.requesterId}> is now revoked, after ${grant.revokeFailures} failed attempt(s).`,
      );
    }
  }
}

/** Counts a failed revocation; the first time it crosses the threshold, alerts the audit channel. */
async function recordRevokeFailure(deps: Deps, grantId: string, message: string): Promise<void> {
  const grant = await deps.db.grant.update({
    where: { id: grantId },
    data: { revokeFailures: { increment: 1 }, lastError: message },
    include: { request: true },
  });
  if (grant.revokeFailures < deps.tuning.alertAfterFailures) return;
  const { count } = await deps.db.grant.updateMany({
    where: { id: grantId, alertedAt: null },
    data: { alertedAt: new Date() },
  });
  if (count === 0) return;
  const request = grant.request;
  await deps.db.$transaction((tx) =>
    appendAudit(tx, {
      actor: "jit",
      action: "grant.revoke-failing",
      requestId: request.id,
      resourceId: request.resourceId,
      details: { grantId, failures: grant.revokeFailures, error: message },
    }),
  );
  deps.logger.error(
    { grantId, requestId: request.id, failures: grant.revokeFailures },
    "revocation keeps failing",
  );
  const channel = deps.policy.audit.channel;
  if (channel) {
    await deps.messenger
      .post(
        channel,
        `:rotating_light: Revocation of ${request.id} (${request.resourceId}, <@${request.requesterId}>) has failed ` +
          `${grant.revokeFailures} times and is still being retried. Last error: ${escapeMrkdwn(message)}`,
      )
      .catch((error) => deps.logger.error({ err: error }, "could not post the revocation alert"));
  }
}
