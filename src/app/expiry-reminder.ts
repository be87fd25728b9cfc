import { scheduleReminder } from "../jobs/schedule.js";
import { expiryReminder } from "../slack/extension-views.js";
import type { Deps } from "./deps.js";

/**
 * Schedules the grantee's reminder before the grant's `n`th expiry (n = extensions applied so far),
 * when at least twice `reminders.beforeExpiry` is left: a short grant gets no reminder that would
 * arrive right after its DM. Never throws: a missing reminder must not fail a grant or extension.
 */
export async function scheduleExpiryReminder(
  deps: Deps,
  grantId: string,
  n: number,
  expiresAt: Date,
): Promise<void> {
  const beforeMs = deps.policy.reminders.beforeExpiry * 1000;
  if (expiresAt.getTime() - Date.now() < 2 * beforeMs) return;
  await scheduleReminder(deps.queue, grantId, n, new Date(expiresAt.getTime() - beforeMs)).catch(
    (error: Error) =>
      deps.logger.warn({ err: error.message, grantId, n }, "could not schedule the expiry reminder"),
  );
}

/**
 * The reminder job: one DM per grant and expiry, across replicas and restarts. The job id is
 * deterministic (one job), and PostgreSQL keeps a marker (`remindedFor`) claimed before the DM and
 * released if the DM fails, so a re-run or a duplicate job never DMs twice. A reminder whose expiry
 * an extension has since moved (n is stale), or whose grant ended, says nothing.
 */
export async function runReminder(deps: Deps, grantId: string, n: number): Promise<void> {
  const grant = await deps.db.grant.findUnique({ where: { id: grantId }, include: { request: true } });
  if (
    !grant?.expiresAt ||
    grant.endedAt ||
    grant.revokeRequestedAt ||
    grant.request.status !== "ACTIVE" ||
    grant.extensions !== n ||
    grant.expiresAt.getTime() <= Date.now()
  ) {
    return;
  }
  const claimed = await deps.db.$executeRaw`
    UPDATE "Grant" SET "remindedFor" = ${n}
    WHERE id = ${grantId} AND extensions = ${n} AND ("remindedFor" IS NULL OR "remindedFor" < ${n})`;
  if (claimed === 0) return;
  const message = expiryReminder({
    requestId: grant.requestId,
    resourceId: grant.resourceId,
    expiresAt: grant.expiresAt,
  });
  try {
    await deps.messenger.dm(grant.request.requesterId, message.text, message.blocks);
  } catch (error) {
    // Not sent: give the claim back so the retried job can send it.
    await deps.db.$executeRaw`
      UPDATE "Grant" SET "remindedFor" = ${n === 0 ? null : n - 1}
      WHERE id = ${grantId} AND "remindedFor" = ${n}`;
    throw error;
  }
}
