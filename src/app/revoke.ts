import { resourceFingerprint } from "../config/fingerprint.js";
import { GRANTED_STATES } from "../domain/lifecycle.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import { cardSyncJob, notifyJob } from "../jobs/schedule.js";
import { appendAudit, appendAuditMany } from "../store/audit.js";
import type { Prisma } from "../store/db.js";
import type { HeldGrantLocks } from "../store/grant-locks.js";
import type { Deps } from "./deps.js";
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
 * else holds: their providers are called a few at a time, with no transaction open, and they end
 * together in one short transaction.
 */
export async function runRevoke(deps: Deps, grantId: string): Promise<RevokeOutcome> {
  const [peek] = await deps.db.$queryRaw<{ ended: boolean }[]>`
    SELECT "endedAt" IS NOT NULL AS ended FROM "Grant" WHERE id = ${grantId}`;
  if (!peek || peek.ended) return { kind: "done" }; // gone, or ended by another job's sweep
  let outcome: RevokeOutcome | Swept;
  try {
    outcome = await deps.locks.hold(grantId, (held) => sweep(deps, held, grantId));
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

async function sweep(deps: Deps, held: HeldGrantLocks, grantId: string): Promise<RevokeOutcome | Swept> {
  const now = Date.now();
  const candidates = await deps.db.$queryRaw<{ id: string }[]>`
    SELECT id FROM "Grant"
    WHERE "endedAt" IS NULL AND id <> ${grantId}
      AND "expiresAt" <= (${new Date(now).toISOString()}::timestamptz AT TIME ZONE 'UTC')
    ORDER BY hashtext(id || ${grantId}) LIMIT ${SWEEP_SIZE}`; // each job its own order: sweeps spread out
  // Only grants no other job holds: a try-lock never waits, so sweeps cannot deadlock each other,
  // and one being granted right now is left to its own revoke job.
  const others = await held.tryMore(candidates.map((c) => c.id));
  const grants = await deps.db.grant.findMany({
    where: { id: { in: [grantId, ...others] }, endedAt: null },
    include: { request: true },
  });
  const own = grants.find((g) => g.id === grantId);
  if (!own) return { kind: "done" };
  if (!isDue(own, now)) {
    return { kind: "not-due", at: own.expiresAt ?? new Date(now + deps.tuning.reconcileEveryMs) };
  }
  const due = grants.filter((g) => isDue(g, now));
  const results = await settleWithLimit(due, SWEEP_PARALLELISM, (grant) => revokeAtProvider(deps, grant));
  const swept: Swept = { ended: [], failed: [] };
  results.forEach((result, i) => {
    const grant = due[i] as GrantWithRequest;
    const providerName =
      grant.provider ?? deps.access.resource(grant.request.resourceId)?.provider ?? "unknown";
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
  const moved = await deps.db.$transaction((tx) => recordEnded(tx, swept, endedAt));
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

/**
 * Ends one grant at its provider, through the settings it was granted with: a policy that removed
 * the resource or pointed it elsewhere must not make a revoke "succeed" against the new target while
 * the old access lives on. Such a revoke keeps failing (and alerting) until the settings are back.
 */
async function revokeAtProvider(deps: Deps, grant: GrantWithRequest): Promise<void> {
  const resource = deps.access.resource(grant.request.resourceId);
  if (!resource) {
    throw new Error(
      `resource ${grant.request.resourceId} is no longer in the policy; restore it so jit can revoke this grant`,
    );
  }
  const changed =
    (grant.provider !== null && grant.provider !== resource.provider) ||
    (grant.settingsFingerprint !== null && grant.settingsFingerprint !== resourceFingerprint(resource));
  if (changed) {
    throw new Error(
      `the provider or settings of ${resource.id} changed while this grant was active; restore them so jit can revoke it`,
    );
  }
  const provider = deps.providers.forResource(grant.request.resourceId);
  await provider.revoke(await providerContext(deps, grant.request, grant));
}

/** Marks the swept grants ended and records each end; returns the requests that moved. */
async function recordEnded(tx: Prisma.TransactionClient, swept: Swept, endedAt: Date): Promise<Set<string>> {
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
  await appendAuditMany(
    tx,
    swept.ended
      .filter((e) => e.event === null)
      .map(({ grant }) => ({
        actor: "jit",
        action: "grant.cleaned-up",
        requestId: grant.request.id,
        resourceId: grant.request.resourceId,
        details: details(grant),
      })),
  );
  return moved;
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
