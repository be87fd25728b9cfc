import { randomUUID } from "node:crypto";
import { App, HTTPReceiver } from "@slack/bolt";
import { WebClient } from "@slack/web-api";
import type { Env } from "../config/env.js";
import type { Logger } from "../log.js";
import { boltLogger } from "./bolt-logger.js";

export interface SlackApp {
  app: App;
  /** Present in HTTP mode: serves POST /slack/events, verifying Slack's signature (401 otherwise). */
  receiver?: HTTPReceiver;
}

export interface BotIdentity {
  botId: string;
  botUserId: string;
}

/**
 * Checks the bot token once at start (auth.test), so a wrong token or an unreachable Slack stops
 * the process with one clear message instead of failing every request later.
 */
export async function identifyBot(env: Env, logger: Logger): Promise<BotIdentity> {
  const client = new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    retryConfig: { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 2_000 },
    // Our logger, not the client's console one: its lines are scrubbed and its debug dropped.
    logger: boltLogger(logger),
  });
  try {
    const answer = await client.auth.test();
    if (!answer.bot_id || !answer.user_id) throw new Error("the token is not a bot token");
    return { botId: answer.bot_id, botUserId: answer.user_id };
  } catch (error) {
    const data = (error as { data?: { error?: string } }).data;
    const reason = data?.error
      ? `Slack answered ${data.error}`
      : `cannot reach Slack at ${env.SLACK_API_URL}`;
    throw new StartupError(`SLACK_BOT_TOKEN: auth.test failed: ${reason}`);
  }
}

/** A start-up problem with a message fit to show the operator as it is. */
export class StartupError extends Error {
  override name = "StartupError";
}

/**
 * The Bolt app: HTTP mode with signature verification, or Socket Mode when SLACK_APP_TOKEN is set.
 * Every request gets a request id and a child logger in `context`.
 */
export function createSlackApp(env: Env, logger: Logger, identity: BotIdentity): SlackApp {
  const common = {
    token: env.SLACK_BOT_TOKEN,
    ...identity,
    logger: boltLogger(logger),
    // A few quick retries here (429s honour Retry-After); jobs retry longer with their own backoff.
    clientOptions: {
      slackApiUrl: env.SLACK_API_URL,
      retryConfig: { retries: 4, factor: 2, minTimeout: 250, maxTimeout: 5_000 },
    },
  };
  let slack: SlackApp;
  if (env.SLACK_APP_TOKEN) {
    slack = { app: new App({ ...common, socketMode: true, appToken: env.SLACK_APP_TOKEN }) };
  } else {
    const receiver = new HTTPReceiver({
      signingSecret: env.SLACK_SIGNING_SECRET ?? "",
      endpoints: "/slack/events",
      processBeforeResponse: false,
      logger: common.logger,
    });
    slack = { app: new App({ ...common, receiver }), receiver };
  }
  slack.app.use(async ({ context, body, next }) => {
    const requestId = randomUUID();
    const payload = body as { user_id?: string; user?: { id?: string }; type?: string; command?: string };
    context.requestId = requestId;
    const log = logger.child({
      requestId,
      user: payload.user_id ?? payload.user?.id,
      kind: payload.command ?? payload.type,
      retryNum: context.retryNum,
    });
    context.log = log;
    log.info("slack interaction");
    await next();
  });
  return slack;
}
