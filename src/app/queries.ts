import { formatDuration } from "../domain/duration.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import { requestLine, statusText } from "../slack/views.js";
import { requestInclude, toCardState } from "./cards.js";
import type { Deps } from "./deps.js";
import { refusalsOf } from "./refusals.js";
import { type Outcome, ok, refuse } from "./result.js";

/**
 * Read-only answers. Their messages are already mrkdwn (they render views), unlike other outcomes;
 * handlers send them as they are.
 */
export async function listResources(deps: Deps, userId: string): Promise<string> {
  const resources = await deps.access.requestable(userId);
  if (resources.length === 0) return "There is nothing you may request. Ask an admin if you need access.";
  return [
    "*Resources you may request:*",
    ...resources.map(
      (r) =>
        `• \`${r.id}\` — ${escapeMrkdwn(r.name)} (up to ${formatDuration(r.maxDuration)}` +
        `${r.requiredApprovals > 1 ? `, ${r.requiredApprovals} approvals` : ""})`,
    ),
    escapeMrkdwn("Request one with `/jit request <resource> <duration> <reason…>`"),
  ].join("\n");
}

/** The person's live requests and grants, newest first (`/jit list`, App Home). */
export function myRequests(deps: Deps, userId: string) {
  return deps.db.accessRequest.findMany({
    where: { requesterId: userId, status: { in: ["PENDING", "APPROVED", "ACTIVE"] } },
    include: requestInclude,
    orderBy: { createdAt: "desc" },
    take: 50,
  });
}

/** Pending requests this person may decide on and has not voted on yet, oldest first. */
export async function awaitingDecision(deps: Deps, userId: string) {
  const pending = await deps.db.accessRequest.findMany({
    where: { status: "PENDING", decisions: { none: { approverId: userId } } },
    include: requestInclude,
    orderBy: { createdAt: "asc" },
    take: 200,
  });
  const awaiting: typeof pending = [];
  for (const request of pending) {
    const resource = deps.access.resource(request.resourceId);
    if (resource && !(await deps.access.refusalToDecide(resource, userId, request.requesterId)))
      awaiting.push(request);
  }
  return awaiting;
}

export async function listMine(deps: Deps, userId: string): Promise<string> {
  const mine = await myRequests(deps, userId);
  const awaiting = await awaitingDecision(deps, userId);
  const render = (rows: typeof mine) =>
    rows.map((r) => `• ${requestLine(toCardState(r, deps.access.resource(r.resourceId)))}`);
  return [
    "*Your requests and grants:*",
    ...(mine.length ? render(mine) : ["• none"]),
    "*Awaiting your decision:*",
    ...(awaiting.length ? render(awaiting) : ["• none"]),
  ].join("\n");
}

/** One request in full, for its requester, its approvers and admins. */
export async function showStatus(deps: Deps, userId: string, requestId: string): Promise<Outcome> {
  const request = await deps.db.accessRequest.findUnique({
    where: { id: requestId },
    include: requestInclude,
  });
  const resource = request ? deps.access.resource(request.resourceId) : undefined;
  const visible =
    request &&
    (request.requesterId === userId ||
      deps.access.isAdmin(userId) ||
      (resource && (await deps.access.approvers(resource)).has(userId)));
  if (!request || !visible) return refuse(`There is no request ${requestId} that you can see.`);
  return ok(statusText(toCardState(request, resource), await refusalsOf(deps.db, request.id)), request.id);
}
