import { UnrecoverableError } from "bullmq";
import { formatDuration } from "../domain/duration.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import { enqueueCardSync, enqueueNotify, scheduleRevoke } from "../jobs/schedule.js";
import { type GrantResult, ProviderError } from "../providers/types.js";
import { slackDate } from "../slack/views.js";
import type { Deps } from "./deps.js";
import { withGrantLock } from "./grant-lock.js";
import { recordNotified } from "./notify.js";
import { providerContext, safeErrorMessage } from "./provider-context.js";
import { transition } from "./transition.js";

/**
 * The grant job. The clock starts here: the expiry is fixed (once) before the provider is called,
 * and the revocation is scheduled before access exists, so a crash at any point leaves a revocation
 * (or the reconciler) behind. Credentials go straight to the requester's DM and nowhere else.
 */
export async function runGrant(deps: Deps, grantId: string, attempt: { isLast: boolean }): Promise<void> {
  const grant = await deps.db.grant.findUnique({ where: { id: grantId }, include: { request: true } });
  // An early revoke accepted while the grant was queued wins: the revoke job ends the request.
  if (grant?.request.status !== "APPROVED" || grant.endedAt || grant.revokeRequestedAt) return;
  const request = grant.request;
  // Fix the window once: a retried job keeps the expiry (and the scheduled revocation) it had.
  const now = new Date();
  const [fixed] = await deps.db.$queryRaw<{ expiresAt: Date }[]>`
    UPDATE "Grant"
    SET "grantedAt" = COALESCE("grantedAt", ${now.toISOString()}::timestamptz AT TIME ZONE 'UTC'),
        "expiresAt" = COALESCE("expiresAt", ${new Date(now.getTime() + request.durationSec * 1000).toISOString()}::timestamptz AT TIME ZONE 'UTC')
    WHERE id = ${grantId}
    RETURNING "expiresAt" AT TIME ZONE 'UTC' AS "expiresAt"`;
  if (!fixed) return;
  const expiresAt = fixed.expiresAt;
  await scheduleRevoke(deps.queue, grantId, expiresAt);
  if (expiresAt.getTime() <= Date.now()) return; // the window passed before we could grant; the revoke job ends it

  const provider = deps.providers.forResource(request.resourceId);
  const context = await providerContext(deps, request, { id: grantId, expiresAt });
  const providerName = deps.access.resource(request.resourceId)?.provider ?? "unknown";
  let result: GrantResult | null;
  try {
    result = await withGrantLock(deps, grantId, async (tx) => {
      const [current] = await tx.$queryRaw<{ grantable: boolean }[]>`
        SELECT r.status = 'APPROVED' AND g."endedAt" IS NULL AND g."revokeRequestedAt" IS NULL AS grantable
        FROM "Grant" g JOIN "AccessRequest" r ON r.id = g."requestId" WHERE g.id = ${grantId}`;
      if (!current?.grantable) return null;
      const granted = await provider.grant(context);
      deps.metrics.providerCalls.inc({ provider: providerName, operation: "grant", result: "ok" });
      const details = { grantId, expiresAt: expiresAt.toISOString(), ...granted.details };
      await transition(tx, request, "activate", "jit", details);
      return granted;
    });
  } catch (error) {
    deps.metrics.providerCalls.inc({ provider: providerName, operation: "grant", result: "error" });
    const permanent = error instanceof ProviderError && !error.transient;
    if (!permanent && !attempt.isLast) throw error;
    await failGrant(deps, request, grantId, safeErrorMessage(error));
    throw new UnrecoverableError(safeErrorMessage(error));
  }
  if (!result) return;
  deps.metrics.transitions.inc({ status: "active" });
  await enqueueCardSync(deps.queue, request.id);
  try {
    await deps.messenger.dm(request.requesterId, grantedMessage(request, expiresAt, result));
    await recordNotified(deps, request.id, "ACTIVE"); // told; the reconciler's repair needs no notice
  } catch (error) {
    // The credentials exist only in this process; retrying the job cannot resend them. Say so
    // through a notification that carries no secret, so the requester can revoke and ask again.
    deps.logger.error(
      { err: (error as Error).message, requestId: request.id },
      "could not DM the granted access",
    );
    await enqueueNotify(deps.queue, request.id, "undelivered");
  }
}

function grantedMessage(
  request: { id: string; resourceId: string; durationSec: number },
  expiresAt: Date,
  result: GrantResult,
): string {
  const lines = Object.entries(result.details).map(([k, v]) => `${k}: ${escapeMrkdwn(v)}`);
  const secrets = Object.entries(result.secrets ?? {}).map(([k, v]) => `${k}: \`${escapeMrkdwn(v)}\``);
  return [
    `:white_check_mark: Access to ${request.resourceId} granted for ${formatDuration(request.durationSec)} ` +
      `(${request.id}), until ${slackDate(expiresAt)}.`,
    ...lines,
    ...secrets,
    secrets.length ? "_These credentials are shown once; jit does not store them._" : "",
  ]
    .filter(Boolean)
    .join("\n");
}

/** A grant that cannot be made: record it, tell everyone, and clean up whatever half-exists. */
async function failGrant(
  deps: Deps,
  request: { id: string; resourceId: string },
  grantId: string,
  message: string,
): Promise<void> {
  const failed = await deps.db.$transaction(async (tx) => {
    const moved = await transition(tx, request, "fail", "jit", { grantId, error: message });
    if (moved) await tx.grant.update({ where: { id: grantId }, data: { lastError: message } });
    return moved;
  });
  if (!failed) return;
  deps.metrics.transitions.inc({ status: "failed" });
  await Promise.all([
    scheduleRevoke(deps.queue, grantId, "now"),
    enqueueNotify(deps.queue, request.id, "failed"),
    enqueueCardSync(deps.queue, request.id),
  ]);
}
