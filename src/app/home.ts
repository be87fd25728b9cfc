import { type HomeData, homeView } from "../slack/home-view.js";
import { toCardState } from "./cards.js";
import type { Deps } from "./deps.js";
import { extensionCardState, extensionInclude } from "./extension-followups.js";
import { awaitingDecision, myRequests } from "./queries.js";

/**
 * What the person's App Home shows: their grants and pending requests, and what awaits their
 * decision (requests and extensions), by exactly the rules of the cards (`refusalToDecide`).
 */
export async function homeData(deps: Deps, userId: string): Promise<HomeData> {
  const state = (request: Awaited<ReturnType<typeof myRequests>>[number]) =>
    toCardState(request, deps.access.resource(request.resourceId));
  const mine = await myRequests(deps, userId);
  const extensions = await deps.db.extension.findMany({
    where: { status: "PENDING", decisions: { none: { approverId: userId } } },
    include: extensionInclude,
    orderBy: { createdAt: "asc" },
    take: 100,
  });
  const decidable = [];
  for (const extension of extensions) {
    const resource = deps.access.resource(extension.grant.resourceId);
    if (resource && !(await deps.access.refusalToDecide(resource, userId, extension.requesterId))) {
      decidable.push(extensionCardState(deps, extension));
    }
  }
  return {
    grants: mine.filter((r) => r.status !== "PENDING").map(state),
    pending: mine.filter((r) => r.status === "PENDING").map(state),
    awaiting: (await awaitingDecision(deps, userId)).map(state),
    extensions: decidable,
  };
}

/** Publishes the person's App Home as it is now. */
export async function publishHome(deps: Deps, userId: string): Promise<void> {
  await deps.slack.views.publish({ user_id: userId, view: homeView(await homeData(deps, userId)) });
}
