import { WebClient } from "@slack/web-api";
import { createDeps, type Deps, type Tuning } from "../../src/app/deps.js";
import { loadEnv } from "../../src/config/env.js";
import { parsePolicy } from "../../src/config/load-policy.js";
import { createMetrics } from "../../src/http/metrics.js";
import { createQueue } from "../../src/jobs/queue.js";
import { createRedis } from "../../src/jobs/redis.js";
import { createLogger } from "../../src/log.js";
import { createDb } from "../../src/store/db.js";
import { type Harness, testTuning } from "../support/harness.js";

/**
 * A second, in-process set of use-case dependencies built like startJit's composition root
 * (createDeps over createDb/createQueue/createRedis and a WebClient pointed at the Slack stand-in),
 * on the harness's database, queue prefix and stand-in. Property tests call the use-cases with it
 * directly, so they choose the order (and the overlap) of every step themselves.
 */
export interface DirectDeps {
  deps: Deps;
  close(): Promise<void>;
}

export function directDeps(h: Harness, policyYaml: string, tuning: Partial<Tuning> = {}): DirectDeps {
  const env = loadEnv(h.env);
  const policy = parsePolicy(policyYaml, h.env);
  const db = createDb(env.DATABASE_URL, 12);
  const redis = createRedis(env.REDIS_URL, "producer");
  const queue = createQueue(redis, env.JIT_QUEUE_PREFIX);
  const slack = new WebClient(env.SLACK_BOT_TOKEN, {
    slackApiUrl: env.SLACK_API_URL,
    retryConfig: { retries: 0 },
  });
  const deps = createDeps(
    { env, policy, db, queue, redis, slack, logger: createLogger("silent"), metrics: createMetrics() },
    { ...testTuning, ...tuning },
  );
  return {
    deps,
    async close() {
      await deps.providers.close();
      await deps.locks.close();
      await queue.close();
      redis.disconnect();
      await db.$disconnect();
    },
  };
}
