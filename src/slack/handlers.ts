import type { App, RespondFn } from "@slack/bolt";
import { requestSummary } from "../app/audit-summary.js";
import { reviewBreakglass, useBreakglass } from "../app/breakglass.js";
import { decide } from "../app/decide.js";
import type { Deps } from "../app/deps.js";
import { fileExtension } from "../app/extend.js";
import { decideExtension } from "../app/extension-decide.js";
import { listMine, listResources, showStatus } from "../app/queries.js";
import { checkRequest, refuseRequest, requestAccess } from "../app/request-access.js";
import type { Outcome } from "../app/result.js";
import { cancelRequest, revokeEarly } from "../app/withdraw.js";
import { checkReason, type ParsedCommand, parseCommand, USAGE } from "../domain/command.js";
import { parseDuration } from "../domain/duration.js";
import { escapeMrkdwn } from "../domain/mrkdwn.js";
import type { Logger } from "../log.js";
import { extendModal } from "./extension-views.js";
import { registerHomeHandlers } from "./home-handlers.js";
import { readRequestModal, requestModal } from "./modal.js";
import { outcomeText } from "./outcome.js";
import {
  ACTION_APPROVE,
  ACTION_BREAKGLASS_ACK,
  ACTION_BREAKGLASS_FLAG,
  ACTION_DENY,
  ACTION_EXTEND_OPEN,
  ACTION_EXTENSION_APPROVE,
  ACTION_EXTENSION_DENY,
  BLOCK_DURATION,
  BLOCK_REASON,
  BLOCK_RESOURCE,
  VIEW_EXTEND,
  VIEW_REQUEST,
} from "./wire.js";

const ephemeral = (text: string) => ({ response_type: "ephemeral" as const, text });
/** Commands that are not idempotent by themselves: a redelivered one must not run twice. */
const ONCE = new Set(["request", "extend", "breakglass", "audit"]);

/** Tracks listener work still running after its ack, so shutdown can let it finish. */
export class Inflight {
  private readonly running = new Set<Promise<unknown>>();
  track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    work.finally(() => this.running.delete(work)).catch(() => undefined);
    return work;
  }
  async drain(timeoutMs = 10_000): Promise<void> {
    const deadline = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.running]), deadline]);
  }
}

/** Runs the slow part of a command after the ack and answers through response_url. */
async function answerLater(respond: RespondFn, log: Logger, work: () => Promise<string>): Promise<void> {
  let text: string;
  try {
    text = await work();
  } catch (error) {
    log.error({ err: error }, "command failed");
    text =
      ":warning: Something went wrong on jit's side and nothing was changed. Please try again in a minute.";
  }
  await respond(ephemeral(text));
}

async function runCommand(deps: Deps, userId: string, parsed: ParsedCommand): Promise<string> {
  switch (parsed.kind) {
    case "request":
      return outcomeText(
        await requestAccess(deps, {
          requesterId: userId,
          resourceId: parsed.resource,
          durationSec: parsed.durationSec,
          reason: parsed.reason,
        }),
      );
    case "resources":
      return listResources(deps, userId);
    case "list":
      return listMine(deps, userId);
    case "status": {
      const outcome = await showStatus(deps, userId, parsed.id);
      return outcome.ok ? outcome.message : outcomeText(outcome);
    }
    case "cancel":
      return outcomeText(await cancelRequest(deps, userId, parsed.id));
    case "revoke":
      return outcomeText(await revokeEarly(deps, userId, parsed.id, parsed.reason));
    case "audit": {
      const outcome = await requestSummary(deps, userId, parsed.window);
      return outcome.ok ? outcome.message : outcomeText(outcome);
    }
    case "breakglass":
      return outcomeText(
        await useBreakglass(deps, {
          requesterId: userId,
          resourceId: parsed.resource,
          durationSec: parsed.durationSec,
          reason: parsed.reason,
        }),
      );
    case "extend":
      return outcomeText(
        await fileExtension(deps, {
          requesterId: userId,
          requestId: parsed.id,
          durationSec: parsed.durationSec,
          reason: parsed.reason,
        }),
      );
    default:
      return escapeMrkdwn(USAGE);
  }
}

/** Wires `/jit`, the card buttons and the request modal to their use-cases. Handlers stay thin. */
export function registerSlackHandlers(app: App, deps: Deps): Inflight {
  const inflight = new Inflight();
  const logOf = (context: Record<string, unknown>) => (context.log as Logger | undefined) ?? deps.logger;

  app.command("/jit", async ({ command, ack, respond, client, context }) => {
    const parsed = parseCommand(command.text ?? "");
    deps.metrics.commands.inc({ subcommand: parsed.kind });
    if (parsed.kind === "help") return ack(ephemeral(escapeMrkdwn(USAGE)));
    if (parsed.kind === "invalid") return ack(ephemeral(escapeMrkdwn(parsed.message)));
    await ack();
    const log = logOf(context);
    if (ONCE.has(parsed.kind) && !(await deps.firstDelivery(`command:${command.trigger_id}`))) {
      log.info({ subcommand: parsed.kind }, "duplicate delivery of a command; the first one answers");
      return;
    }
    if (parsed.kind === "request-modal") {
      await inflight.track(
        deps.access
          .requestable(command.user_id)
          .then((resources) =>
            client.views.open({ trigger_id: command.trigger_id, view: requestModal(resources) }),
          )
          .catch(async (error) => {
            log.error({ err: error }, "could not open the request form");
            await respond(
              ephemeral(
                escapeMrkdwn(
                  "I could not open the request form; use `/jit request <resource> <duration> <reason…>`.",
                ),
              ),
            );
          }),
      );
      return;
    }
    await inflight.track(answerLater(respond, log, () => runCommand(deps, command.user_id, parsed)));
  });

  type Vote = (id: string, approverId: string, outcome: "APPROVE" | "DENY") => Promise<Outcome>;
  const onRequest: Vote = (requestId, approverId, outcome) =>
    decide(deps, { requestId, approverId, outcome });
  const onExtension: Vote = (extensionId, approverId, outcome) =>
    decideExtension(deps, { extensionId, approverId, outcome });
  for (const [actionId, outcome, vote] of [
    [ACTION_APPROVE, "APPROVE", onRequest],
    [ACTION_DENY, "DENY", onRequest],
    [ACTION_EXTENSION_APPROVE, "APPROVE", onExtension],
    [ACTION_EXTENSION_DENY, "DENY", onExtension],
  ] as const) {
    app.action(actionId, async ({ ack, body, action, respond, context }) => {
      await ack();
      const id = "value" in action && typeof action.value === "string" ? action.value : "";
      await inflight.track(
        answerLater(respond, logOf(context), async () => outcomeText(await vote(id, body.user.id, outcome))),
      );
    });
  }

  for (const [actionId, outcome] of [
    [ACTION_BREAKGLASS_ACK, "acknowledged"],
    [ACTION_BREAKGLASS_FLAG, "flagged"],
  ] as const) {
    app.action(actionId, async ({ ack, body, action, respond, context }) => {
      await ack();
      const requestId = "value" in action && typeof action.value === "string" ? action.value : "";
      await inflight.track(
        answerLater(respond, logOf(context), async () =>
          outcomeText(await reviewBreakglass(deps, { requestId, reviewerId: body.user.id, outcome })),
        ),
      );
    });
  }

  // The reminder's Extend button opens the extension form; submitting it files the extension.
  app.action(ACTION_EXTEND_OPEN, async ({ ack, body, action, client, respond, context }) => {
    await ack();
    const requestId = "value" in action && typeof action.value === "string" ? action.value : "";
    const request = await deps.db.accessRequest.findUnique({ where: { id: requestId } }).catch(() => null);
    const name = (request && deps.access.resource(request.resourceId)?.name) ?? requestId;
    const triggerId = "trigger_id" in body ? body.trigger_id : "";
    await inflight.track(
      client.views
        .open({ trigger_id: triggerId, view: extendModal(requestId, name) })
        .catch(async (error) => {
          logOf(context).error({ err: error }, "could not open the extension form");
          await respond(
            ephemeral(
              escapeMrkdwn(
                `I could not open the form; use \`/jit extend ${requestId} <duration> <reason…>\`.`,
              ),
            ),
          );
        }),
    );
  });

  app.view(VIEW_EXTEND, async ({ ack, body, view }) => {
    const form = readRequestModal(view.state.values);
    const errors: Record<string, string> = {};
    const duration = parseDuration(form.duration);
    if (!duration.ok) errors[BLOCK_DURATION] = duration.error;
    const reasonError = checkReason(form.reason);
    if (reasonError) errors[BLOCK_REASON] = reasonError;
    if (Object.keys(errors).length > 0 || !duration.ok) return ack({ response_action: "errors", errors });
    const outcome = await fileExtension(deps, {
      requesterId: body.user.id,
      requestId: view.private_metadata,
      durationSec: duration.seconds,
      reason: form.reason,
    });
    if (!outcome.ok) return ack({ response_action: "errors", errors: { [BLOCK_DURATION]: outcome.message } });
    await ack();
    await inflight.track(deps.messenger.dm(body.user.id, outcomeText(outcome)).catch(() => undefined));
  });

  app.view(VIEW_REQUEST, async ({ ack, body, view, context }) => {
    const form = readRequestModal(view.state.values);
    const errors: Record<string, string> = {};
    const duration = parseDuration(form.duration);
    if (!form.resource) errors[BLOCK_RESOURCE] = "Choose a resource.";
    if (!duration.ok) errors[BLOCK_DURATION] = duration.error;
    const reasonError = checkReason(form.reason);
    if (reasonError) errors[BLOCK_REASON] = reasonError;
    const input = {
      requesterId: body.user.id,
      resourceId: form.resource,
      durationSec: duration.ok ? duration.seconds : 0,
      reason: form.reason,
    };
    if (Object.keys(errors).length === 0) {
      const refusal = await checkRequest(deps, input);
      if (refusal) {
        errors[refusal.field === "resource" ? BLOCK_RESOURCE : BLOCK_DURATION] = refusal.message;
        await refuseRequest(deps, input, refusal); // audits a forbidden one, like the command does
      }
    }
    if (Object.keys(errors).length > 0) return ack({ response_action: "errors", errors });
    await ack();
    await inflight.track(
      requestAccess(deps, input)
        .then((outcome) => deps.messenger.dm(body.user.id, outcomeText(outcome)))
        .catch((error) => logOf(context).error({ err: error }, "request from the form failed")),
    );
  });
  registerHomeHandlers(app, deps, inflight);
  return inflight;
}
