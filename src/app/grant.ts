import { UnrecoverableError } from "bullmq";
import { resourceFingerprint } from "../config/fingerprint.js";
import { formatDuration } from "../domain/duration.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import { enqueueCardSync, enqueueNotify, scheduleRevoke } from "../jobs/schedule.js";
import { type GrantResult, ProviderError } from "../providers/types.js";
import { slackDate } from "../slack/views.js";
import type { Prisma } from "../store/db.js";
import type { Deps } from "./deps.js";
import { scheduleExpiryReminder } from "./expiry-reminder.js";
import { recordNotified } from "./notify.js";
import { providerContext, safeErrorMessage } from "./provider-context.js";
import { transition } from "./transition.js";

type GrantWithRequest = Prisma.GrantGetPayload<{ include: { request: true } }>;

/** Outcome of one grant attempt, before the requester is told. */
type Attempt = { kind: "granted"; expiresAt: Date; result: GrantResult } | { kind: "nothing" };

/**
 * The grant job. The clock starts here: the expiry is fixed (once) before the provider is called,
 * and the revocation is scheduled before access exists, so a crash at any point leaves a revocation
 * (or the reconciler) behind. The provider is called under the grant's lock with no transaction
 * open. An approval not granted within `grantTimeout` ends FAILED: access never starts late.
 * Credentials go straight to the requester's DM and nowhere else.
 */
export async function runGrant(deps: Deps, grantId: string, attempt: { isLast: boolean }): Promise<void> {
  const grant = await deps.db.grant.findUnique({ where: { id: grantId }, include: { request: true } });
  // An early revoke accepted while the grant was queued wins: the revoke job ends the request.
  if (grant?.request.status !== "APPROVED" || grant.endedAt || grant.revokeRequestedAt) return;
  const request = grant.request;
  const providerName = grant.provider ?? deps.access.resource(request.resourceId)?.provider ?? "unknown";
  let outcome: Attempt;
  try {
    if (grantDeadline(deps, grant.createdAt) <= new Date()) {
      await failGrant(deps, request, grantId, lateMessage(deps));
      return;
    }
    outcome = await attemptGrant(deps, grant, providerName);
  } catch (error) {
    const permanent = error instanceof ProviderError && !error.transient;
    // Whatever failed (provider, Slack directory, Redis, the database), the last attempt ends the
    // request: an approval must never stay APPROVED with no job left to finish it.
    if (!permanent && !attempt.isLast) throw error;
    await failGrant(deps, request, grantId, safeErrorMessage(error));
    throw new UnrecoverableError(safeErrorMessage(error));
  }
  if (outcome.kind === "nothing") return;
  deps.metrics.transitions.inc({ status: "active" });
  await scheduleExpiryReminder(deps, grantId, 0, outcome.expiresAt);
  await enqueueCardSync(deps.queue, request.id);
  try {
    await deps.messenger.dm(request.requesterId, grantedMessage(request, outcome.expiresAt, outcome.result));
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

/** The moment after which an approved request is failed rather than granted. */
export function grantDeadline(deps: Deps, approvedAt: Date): Date {
  return new Date(approvedAt.getTime() + deps.policy.grantTimeout * 1000);
}

/**
 * The reconciler's bound on an approval: past its deadline and still not granted (its job lost,
 * failed for good, or stuck), it ends FAILED and the requester is told. A grant job still holding
 * the provider call finds the request failed and its access is revoked straight away.
 */
export async function failLateGrant(deps: Deps, grantId: string): Promise<void> {
  const grant = await deps.db.grant.findUnique({ where: { id: grantId }, include: { request: true } });
  if (grant?.request.status !== "APPROVED" || grantDeadline(deps, grant.createdAt) > new Date()) return;
  await failGrant(deps, grant.request, grantId, lateMessage(deps));
}

function lateMessage(deps: Deps): string {
  return `not granted within ${formatDuration(deps.policy.grantTimeout)} of approval (grantTimeout); nothing was granted`;
}

async function attemptGrant(deps: Deps, grant: GrantWithRequest, providerName: string): Promise<Attempt> {
  const request = grant.request;
  const resource = deps.access.resource(request.resourceId);
  if (!resource) throw new ProviderError(`resource ${request.resourceId} is no longer in the policy`, false);
  const deadline = grantDeadline(deps, grant.createdAt);
  // Fix the window and what it is granted through once: a retried job keeps the expiry (and the
  // scheduled revocation) it had, and the revocation goes through the same provider settings.
  const fixed = await deps.db.$queryRaw<{ expiresAt: Date; fingerprint: string }[]>`
    UPDATE "Grant"
    SET "grantedAt" = COALESCE("grantedAt", now() AT TIME ZONE 'UTC'),
        "expiresAt" = COALESCE("expiresAt", (now() AT TIME ZONE 'UTC') + ${request.durationSec}::int * interval '1 second'),
        provider = COALESCE(provider, ${resource.provider}),
        "settingsFingerprint" = COALESCE("settingsFingerprint", ${resourceFingerprint(resource)})
    WHERE id = ${grant.id}
    RETURNING "expiresAt" AT TIME ZONE 'UTC' AS "expiresAt", "settingsFingerprint" AS fingerprint`;
  const window = fixed[0];
  if (!window) return { kind: "nothing" };
  await scheduleRevoke(deps.queue, grant.id, window.expiresAt);
  if (window.expiresAt.getTime() <= Date.now()) return { kind: "nothing" }; // the revoke job ends it
  if (window.fingerprint !== resourceFingerprint(resource)) {
    throw new ProviderError(`the settings of ${request.resourceId} changed since this grant started`, false);
  }
  const provider = deps.providers.forResource(request.resourceId);
  const context = await providerContext(deps, request, { id: grant.id, expiresAt: window.expiresAt });
  return deps.locks.hold(grant.id, async () => {
    // Looked at again under the lock: a revoke, a failure or the deadline may have come first.
    const [current] = await deps.db.$queryRaw<{ grantable: boolean }[]>`
      SELECT r.status = 'APPROVED' AND g."endedAt" IS NULL AND g."revokeRequestedAt" IS NULL
             AND now() < ${deadline.toISOString()}::timestamptz AS grantable
      FROM "Grant" g JOIN "AccessRequest" r ON r.id = g."requestId" WHERE g.id = ${grant.id}`;
    if (!current?.grantable) return { kind: "nothing" };
    let result: GrantResult;
    try {
      result = await provider.grant(context);
    } catch (error) {
      deps.metrics.providerCalls.inc({ provider: providerName, operation: "grant", result: "error" });
      throw error;
    }
    deps.metrics.providerCalls.inc({ provider: providerName, operation: "grant", result: "ok" });
    const details = { grantId: grant.id, expiresAt: window.expiresAt.toISOString(), ...result.details };
    const activated = await deps.db.$transaction((tx) => transition(tx, request, "activate", "jit", details));
    // Not activated: the request failed or was ended meanwhile, and its revoke job (waiting for this
    // lock) removes what was just granted. The credentials are not sent.
    return activated ? { kind: "granted", expiresAt: window.expiresAt, result } : { kind: "nothing" };
  });
}

function grantedMessage(
  request: { id: string; resourceId: string; durationSec: number },
  expiresAt: Date,
  result: GrantResult,
): string {
  const lines = Object.entries(result.details).map(([k, v]) => `${k}: ${escapeMrkdwn(v)}`);
  // A multi-line secret (a kubeconfig) reads as a code block; a one-line one inline.
  const secrets = Object.entries(result.secrets ?? {}).map(([k, v]) =>
    v.includes("\n") ? `${k}:\n\`\`\`${escapeMrkdwn(v)}\`\`\`` : `${k}: \`${escapeMrkdwn(v)}\``,
  );
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
