import { WebClient } from "@slack/web-api";
import { SlackDirectory } from "../app/directory.js";
import { explainResource } from "../app/explain-policy.js";
import { optionalBotToken } from "../config/env.js";
import type { Policy, Resource } from "../config/policy.js";
import { createLogger } from "../log.js";
import { ProviderPool } from "../providers/pool.js";
import { boltLogger } from "./bolt-logger.js";

/** explainResource with its parts built from the environment: Slack when a bot token is set. */
export async function explainWithSlack(
  policy: Policy,
  resource: Resource,
  env: { SLACK_API_URL: string; DATABASE_URL: string },
  userId?: string,
): Promise<string[]> {
  const token = optionalBotToken();
  const unresolved = new Set<string>();
  const client = token
    ? new WebClient(token, {
        slackApiUrl: env.SLACK_API_URL,
        retryConfig: { retries: 0 },
        logger: boltLogger(createLogger("silent")),
      })
    : null;
  const directory = client ? new SlackDirectory(client, (groupId) => unresolved.add(groupId)) : null;
  // Providers are built only to ask which identity they need: no connection is opened.
  const providers = new ProviderPool(policy, env.DATABASE_URL);
  try {
    return await explainResource({ policy, providers, directory, unresolved }, resource, userId);
  } finally {
    await providers.close();
  }
}
