import { scheduleApproverReminder } from "../jobs/schedule.js";
import { slackDate } from "../slack/views.js";
import type { Deps } from "./deps.js";

/** When the `k`th reminder is due: after `every`, then twice as long after that, and so on. */
export function approverReminderTime(createdAt: Date, everySec: number, k: number): Date {
  return new Date(createdAt.getTime() + everySec * 1000 * (2 ** k - 1));
}

/**
 * Schedules the `k`th reminder of a pending request's approvers, when its resource sets
 * `remindApprovers` and the reminder falls before the request times out. The job id is
 * deterministic, so every card sync may call this: the first call schedules, the others do nothing.
 */
export async function scheduleApproverReminders(
  deps: Deps,
  request: { id: string; resourceId: string; createdAt: Date; timeoutAt: Date },
  k = 1,
): Promise<void> {
  const every = deps.access.resource(request.resourceId)?.remindApprovers;
  if (!every) return;
  const at = approverReminderTime(request.createdAt, every, k);
  if (at >= request.timeoutAt) return;
  await scheduleApproverReminder(deps.queue, request.id, k, at);
}

/**
 * The `k`th reminder: a reply threaded under the card copy of each approver who has not voted (DM
 * copies only; the approvals channel gets none). Each copy records how many reminders it got,
 * claimed before the post and given back if it fails, so a re-run or a duplicate job never posts
 * twice. Then the next one is scheduled, until the request is decided or times out.
 */
export async function runApproverReminder(deps: Deps, requestId: string, k: number): Promise<void> {
  const request = await deps.db.accessRequest.findUnique({
    where: { id: requestId },
    include: { decisions: true, cards: true },
  });
  if (request?.status !== "PENDING" || request.timeoutAt.getTime() <= Date.now()) return;
  const voted = new Set(request.decisions.map((d) => d.approverId));
  const text =
    `:bell: Reminder: <@${request.requesterId}>'s request ${request.id} for ${request.resourceId} is still ` +
    `waiting for your decision (it expires ${slackDate(request.timeoutAt)}).`;
  for (const copy of request.cards) {
    const approver = copy.recipientId;
    if (!approver || approver === deps.policy.approvalsChannel || voted.has(approver)) continue;
    const claimed = await deps.db.cardMessage.updateMany({
      where: { id: copy.id, reminders: { lt: k } },
      data: { reminders: k },
    });
    if (claimed.count === 0) continue;
    try {
      await deps.messenger.reply(copy.channel, copy.ts, text);
    } catch (error) {
      await deps.db.cardMessage.updateMany({
        where: { id: copy.id, reminders: k },
        data: { reminders: k - 1 },
      });
      throw error;
    }
  }
  await scheduleApproverReminders(deps, request, k + 1);
}
