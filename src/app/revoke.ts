import { GRANTED_STATES } from "../domain/lifecycle.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import { enqueueCardSync, enqueueNotify } from "../jobs/schedule.js";
import { appendAudit } from "../store/audit.js";
import type { Prisma } from "../store/db.js";
import type { Deps } from "./deps.js";
import { withGrantLock } from "./grant-lock.js";
import { providerContext, safeErrorMessage } from "./provider-context.js";
import { transition } from "./transition.js";

/** What the revoke job should do next. */
export type RevokeOutcome = { kind: "done" } | { kind: "not-due"; at: Date };

/**
 * The revoke job. PostgreSQL is the truth: the job ends access when the grant is past its expiry,
 * was revoked early, or failed half-way; otherwise it asks to be run again at the expiry (an
 * extension may have moved it). A grant is marked ended only after the provider confirms.
 */
export async function runRevoke(deps: Deps, grantId: string): Promise<RevokeOutcome> {
  type Ended = { event: "revoke" | "expire" | null; grant: GrantWithRequest };
  let outcome: RevokeOutcome | Ended;
  let providerName = "unknown";
  try {
    // One read, under the grant's lock: a grant being granted right now is revoked after it.
    outcome = await withGrantLock(deps, grantId, async (tx): Promise<RevokeOutcome | Ended> => {
      const grant = await tx.grant.findUnique({ where: { id: grantId }, include: { request: true } });
      if (!grant || grant.endedAt) return { kind: "done" };
      const request = grant.request;
      const due =
        grant.revokeRequestedAt !== null ||
        !GRANTED_STATES.includes(request.status) ||
        (grant.expiresAt !== null && grant.expiresAt.getTime() <= Date.now());
      if (!due) {
        return {
          kind: "not-due",
          at: grant.expiresAt ?? new Date(Date.now() + deps.tuning.reconcileEveryMs),
        };
      }
      providerName = deps.access.resource(request.resourceId)?.provider ?? "unknown";
      const provider = deps.providers.forResource(request.resourceId);
      await provider.revoke(await providerContext(deps, request, grant));
      deps.metrics.providerCalls.inc({ provider: providerName, operation: "revoke", result: "ok" });
      const endedAt = new Date();
      await tx.$executeRaw`
        UPDATE "Grant" SET "endedAt" = ${endedAt.toISOString()}::timestamptz AT TIME ZONE 'UTC',
          "updatedAt" = (now() AT TIME ZONE 'UTC')
        WHERE id = ${grantId}`;
      const lagMs = grant.expiresAt ? endedAt.getTime() - grant.expiresAt.getTime() : null;
      const details = { grantId, lagMs, reason: grant.revokeReason, failures: grant.revokeFailures };
      if (!GRANTED_STATES.includes(request.status)) {
        await appendAudit(tx, {
          actor: "jit",
          action: "grant.cleaned-up",
          requestId: request.id,
          resourceId: request.resourceId,
          details,
        });
        return { event: null, grant };
      }
      const event = grant.revokeRequestedAt ? "revoke" : "expire";
      await transition(tx, request, event, grant.revokeRequestedBy ?? "jit", details);
      if (event === "expire" && lagMs !== null) deps.metrics.revocationLag.observe(Math.max(0, lagMs) / 1000);
      return { event, grant };
    });
  } catch (error) {
    deps.metrics.providerCalls.inc({ provider: providerName, operation: "revoke", result: "error" });
    await recordRevokeFailure(deps, grantId, safeErrorMessage(error));
    throw error;
  }
  if ("kind" in outcome) return outcome;
  const { event, grant } = outcome;
  const request = grant.request;
  if (event) {
    deps.metrics.transitions.inc({ status: event === "revoke" ? "revoked" : "expired" });
    await Promise.all([
      enqueueNotify(deps.queue, request.id, event === "revoke" ? "revoked" : "expired"),
      enqueueCardSync(deps.queue, request.id),
    ]);
  }
  if (grant.alertedAt && deps.policy.audit.channel) {
    await deps.messenger.post(
      deps.policy.audit.channel,
      `:white_check_mark: ${request.id}: access to ${request.resourceId} for <@${request.requesterId}> is now revoked, after ${grant.revokeFailures} failed attempt(s).`,
    );
  }
  return { kind: "done" };
}

type GrantWithRequest = Prisma.GrantGetPayload<{ include: { request: true } }>;

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
