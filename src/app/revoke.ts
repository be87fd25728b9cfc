import { GRANTED_STATES } from "../domain/lifecycle.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import { enqueueCardSync, enqueueNotify } from "../jobs/schedule.js";
import { appendAudit } from "../store/audit.js";
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
  const grant = await deps.db.grant.findUnique({ where: { id: grantId }, include: { request: true } });
  if (!grant || grant.endedAt) return { kind: "done" };
  const request = grant.request;
  const due =
    grant.revokeRequestedAt !== null ||
    !GRANTED_STATES.includes(request.status) ||
    (grant.expiresAt !== null && grant.expiresAt.getTime() <= Date.now());
  if (!due)
    return { kind: "not-due", at: grant.expiresAt ?? new Date(Date.now() + deps.tuning.reconcileEveryMs) };

  const resource = deps.access.resource(request.resourceId);
  const providerName = resource?.provider ?? "unknown";
  let event: "revoke" | "expire" | null;
  try {
    event = await withGrantLock(deps, grantId, async (tx) => {
      const current = await tx.grant.findUniqueOrThrow({
        where: { id: grantId },
        include: { request: true },
      });
      if (current.endedAt) return null;
      const provider = deps.providers.forResource(request.resourceId);
      await provider.revoke(await providerContext(deps, request, current));
      deps.metrics.providerCalls.inc({ provider: providerName, operation: "revoke", result: "ok" });
      const endedAt = new Date();
      await tx.grant.update({ where: { id: grantId }, data: { endedAt } });
      const lagMs = current.expiresAt ? endedAt.getTime() - current.expiresAt.getTime() : null;
      const next = current.revokeRequestedAt ? "revoke" : "expire";
      const details = { grantId, lagMs, reason: current.revokeReason, failures: current.revokeFailures };
      if (GRANTED_STATES.includes(current.request.status)) {
        await transition(tx, request, next, current.revokeRequestedBy ?? "jit", details);
        if (next === "expire" && lagMs !== null)
          deps.metrics.revocationLag.observe(Math.max(0, lagMs) / 1000);
        return next;
      }
      await appendAudit(tx, {
        actor: "jit",
        action: "grant.cleaned-up",
        requestId: request.id,
        resourceId: request.resourceId,
        details,
      });
      return null;
    });
  } catch (error) {
    deps.metrics.providerCalls.inc({ provider: providerName, operation: "revoke", result: "error" });
    await recordRevokeFailure(deps, grantId, safeErrorMessage(error));
    throw error;
  }
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
