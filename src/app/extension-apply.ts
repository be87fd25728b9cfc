import { UnrecoverableError } from "bullmq";
import { resourceFingerprint } from "../config/fingerprint.js";
import { enqueueExtensionCards, enqueueExtensionNotify, scheduleRevoke } from "../jobs/schedule.js";
import { ProviderError } from "../providers/types.js";
import { appendAudit } from "../store/audit.js";
import type { Deps } from "./deps.js";
import { scheduleExpiryReminder } from "./expiry-reminder.js";
import { providerContext, safeErrorMessage } from "./provider-context.js";

type Applied = { kind: "extended"; grantId: string; expiresAt: Date; n: number } | { kind: "nothing" };

/**
 * The extend job: access goes on without a gap. Under the grant's lock (the one its grant and
 * revoke take, with no transaction open during the provider call) the new expiry is fixed once,
 * the provider moves its own end first (postgres VALID UNTIL, the webhook's `extend` event), and
 * only then does the grant's expiry move — never backwards — with the revocation after it. A revoke
 * job due at the old expiry waits for the lock, then finds the new expiry and delays itself.
 */
export async function runExtend(
  deps: Deps,
  extensionId: string,
  attempt: { isLast: boolean },
): Promise<void> {
  const extension = await deps.db.extension.findUnique({ where: { id: extensionId } });
  if (extension?.status !== "APPROVED") return;
  let applied: Applied;
  try {
    applied = await deps.locks.hold(extension.grantId, () => apply(deps, extensionId));
  } catch (error) {
    const permanent = error instanceof ProviderError && !error.transient;
    if (!permanent && !attempt.isLast) throw error;
    await failExtension(deps, extensionId, safeErrorMessage(error));
    throw new UnrecoverableError(safeErrorMessage(error));
  }
  if (applied.kind === "nothing") return;
  deps.metrics.transitions.inc({ status: "extended" });
  await Promise.all([
    scheduleRevoke(deps.queue, applied.grantId, applied.expiresAt),
    scheduleExpiryReminder(deps, applied.grantId, applied.n, applied.expiresAt),
    enqueueExtensionNotify(deps.queue, extensionId, "extended"),
    enqueueExtensionCards(deps.queue, extensionId),
  ]);
}

async function apply(deps: Deps, extensionId: string): Promise<Applied> {
  // Read again under the lock: a revocation or an expiry may have come first.
  const extension = await deps.db.extension.findUnique({
    where: { id: extensionId },
    include: { grant: { include: { request: true } } },
  });
  if (extension?.status !== "APPROVED") return { kind: "nothing" };
  const { grant } = extension;
  const live =
    grant.request.status === "ACTIVE" &&
    !grant.endedAt &&
    !grant.revokeRequestedAt &&
    grant.expiresAt !== null &&
    grant.expiresAt.getTime() > Date.now();
  if (!live) {
    await failExtension(deps, extensionId, "the grant ended before the extension could be applied");
    return { kind: "nothing" };
  }
  // Fixed once: a retried job extends to the very same moment.
  const [fixed] = await deps.db.$queryRaw<{ until: Date }[]>`
    UPDATE "Extension" e
    SET "newExpiresAt" = COALESCE(e."newExpiresAt", g."expiresAt" + e."durationSec" * interval '1 second')
    FROM "Grant" g
    WHERE e.id = ${extensionId} AND g.id = e."grantId" AND e.status = 'APPROVED'
    RETURNING e."newExpiresAt" AT TIME ZONE 'UTC' AS until`;
  if (!fixed) return { kind: "nothing" };
  const resource = deps.access.resource(grant.resourceId);
  if (!resource) throw new ProviderError(`resource ${grant.resourceId} is no longer in the policy`, false);
  if (grant.settingsFingerprint && grant.settingsFingerprint !== resourceFingerprint(resource)) {
    throw new ProviderError(`the settings of ${grant.resourceId} changed since this grant started`, false);
  }
  const provider = deps.providers.forResource(grant.resourceId);
  if (provider.extend) {
    const context = await providerContext(deps, grant.request, { id: grant.id, expiresAt: fixed.until });
    try {
      await provider.extend({ ...context, extension: extension.seq });
    } catch (error) {
      deps.metrics.providerCalls.inc({ provider: resource.provider, operation: "extend", result: "error" });
      throw error;
    }
    deps.metrics.providerCalls.inc({ provider: resource.provider, operation: "extend", result: "ok" });
  }
  return deps.db.$transaction(async (tx) => {
    const marked = await tx.extension.updateMany({
      where: { id: extensionId, status: "APPROVED" },
      data: { status: "EXTENDED" },
    });
    if (marked.count === 0) return { kind: "nothing" as const };
    // GREATEST: the clock never shrinks, whatever order things happen in.
    const [moved] = await tx.$queryRaw<{ extensions: number }[]>`
      UPDATE "Grant"
      SET "expiresAt" = GREATEST("expiresAt", ${fixed.until.toISOString()}::timestamptz AT TIME ZONE 'UTC'),
          extensions = extensions + 1, "updatedAt" = (now() AT TIME ZONE 'UTC')
      WHERE id = ${grant.id}
      RETURNING extensions`;
    await appendAudit(tx, {
      actor: "jit",
      action: "extension.extended",
      requestId: grant.requestId,
      resourceId: grant.resourceId,
      details: {
        extensionId,
        grantId: grant.id,
        from: grant.expiresAt?.toISOString() ?? null,
        expiresAt: fixed.until.toISOString(),
      },
    });
    return {
      kind: "extended" as const,
      grantId: grant.id,
      expiresAt: fixed.until,
      n: moved?.extensions ?? 1,
    };
  });
}

/** An approved extension that cannot be applied: recorded, the grantee told, the cards updated. */
export async function failExtension(deps: Deps, extensionId: string, message: string): Promise<void> {
  const failed = await deps.db.$transaction(async (tx) => {
    const extension = await tx.extension.findUnique({ where: { id: extensionId }, include: { grant: true } });
    const { count } = await tx.extension.updateMany({
      where: { id: extensionId, status: "APPROVED" },
      data: { status: "FAILED", lastError: message },
    });
    if (count === 0 || !extension) return false;
    await appendAudit(tx, {
      actor: "jit",
      action: "extension.failed",
      requestId: extension.requestId,
      resourceId: extension.grant.resourceId,
      details: { extensionId, error: message },
    });
    return true;
  });
  if (!failed) return;
  await Promise.all([
    enqueueExtensionNotify(deps.queue, extensionId, "failed"),
    enqueueExtensionCards(deps.queue, extensionId),
  ]);
}
