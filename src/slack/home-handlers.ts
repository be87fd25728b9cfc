import type { App } from "@slack/bolt";
import { decide } from "../app/decide.js";
import type { Deps } from "../app/deps.js";
import { decideExtension } from "../app/extension-decide.js";
import { publishHome } from "../app/home.js";
import type { Outcome } from "../app/result.js";
import { cancelRequest, revokeEarly } from "../app/withdraw.js";
import type { Logger } from "../log.js";
import type { Inflight } from "./handlers.js";
import { requestModal } from "./modal.js";
import { outcomeText } from "./outcome.js";
import {
  ACTION_HOME_APPROVE,
  ACTION_HOME_CANCEL,
  ACTION_HOME_DENY,
  ACTION_HOME_EXTENSION_APPROVE,
  ACTION_HOME_EXTENSION_DENY,
  ACTION_HOME_REQUEST,
  ACTION_HOME_REVOKE,
} from "./wire.js";

type HomeAction = (deps: Deps, userId: string, id: string) => Promise<Outcome>;

/** Each Home button and the use-case it runs: the same ones, with the same rules, as commands and cards. */
const ACTIONS: [string, HomeAction][] = [
  [ACTION_HOME_REVOKE, (deps, userId, id) => revokeEarly(deps, userId, id)],
  [ACTION_HOME_CANCEL, (deps, userId, id) => cancelRequest(deps, userId, id)],
  [
    ACTION_HOME_APPROVE,
    (deps, approverId, requestId) => decide(deps, { requestId, approverId, outcome: "APPROVE" }),
  ],
  [
    ACTION_HOME_DENY,
    (deps, approverId, requestId) => decide(deps, { requestId, approverId, outcome: "DENY" }),
  ],
  [
    ACTION_HOME_EXTENSION_APPROVE,
    (deps, approverId, extensionId) => decideExtension(deps, { extensionId, approverId, outcome: "APPROVE" }),
  ],
  [
    ACTION_HOME_EXTENSION_DENY,
    (deps, approverId, extensionId) => decideExtension(deps, { extensionId, approverId, outcome: "DENY" }),
  ],
];

/**
 * The App Home: published when opened, and again after each button pressed on it. A Home button
 * has no response_url (Slack gives none for views), so its answer goes to the person by DM.
 */
export function registerHomeHandlers(app: App, deps: Deps, inflight: Inflight): void {
  const logOf = (context: Record<string, unknown>) => (context.log as Logger | undefined) ?? deps.logger;
  const republish = (userId: string, log: Logger) =>
    publishHome(deps, userId).catch((error) => log.error({ err: error }, "could not publish the App Home"));

  app.event("app_home_opened", async ({ event, context }) => {
    if (event.tab !== "home") return;
    await inflight.track(republish(event.user, logOf(context)));
  });

  app.action(ACTION_HOME_REQUEST, async ({ ack, body, client, context }) => {
    await ack();
    const triggerId = "trigger_id" in body ? body.trigger_id : "";
    await inflight.track(
      deps.access
        .requestable(body.user.id)
        .then((resources) => client.views.open({ trigger_id: triggerId, view: requestModal(resources) }))
        .catch((error) => logOf(context).error({ err: error }, "could not open the request form from Home")),
    );
  });

  for (const [actionId, run] of ACTIONS) {
    app.action(actionId, async ({ ack, body, action, context }) => {
      await ack();
      const id = "value" in action && typeof action.value === "string" ? action.value : "";
      const log = logOf(context);
      await inflight.track(
        run(deps, body.user.id, id)
          .then((outcome) => deps.messenger.dm(body.user.id, outcomeText(outcome)))
          .catch((error) => log.error({ err: error }, "App Home action failed"))
          .then(() => republish(body.user.id, log)),
      );
    });
  }
}
