import type { WebClient } from "@slack/web-api";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Env } from "../config/env.js";
import type { Policy } from "../config/policy.js";
import type { Metrics } from "../http/metrics.js";
import type { Logger } from "../log.js";
import { ProviderPool } from "../providers/pool.js";
import type { Db } from "../store/db.js";
import { SlackDirectory } from "./directory.js";
import { Messenger } from "./messaging.js";
import { AccessPolicy } from "./policy.js";

/** Everything a use-case may touch. Built once per process by the composition root. */
export interface Deps {
  env: Env;
  policy: Policy;
  db: Db;
  queue: Queue;
  /** The producer connection: BullMQ's queue and short mutexes. */
  redis: Redis;
  slack: WebClient;
  logger: Logger;
  metrics: Metrics;
  directory: SlackDirectory;
  providers: ProviderPool;
  access: AccessPolicy;
  messenger: Messenger;
  tuning: Tuning;
}

/** Timings that tests shorten; production uses the defaults. */
export interface Tuning {
  reconcileEveryMs: number;
  /** First retry delay; doubles per attempt up to `retryCapMs`. */
  retryBaseMs: number;
  retryCapMs: number;
  /** Failed revocation attempts before the audit channel is alerted. */
  alertAfterFailures: number;
  workerConcurrency: number;
}

export const DEFAULT_TUNING: Tuning = {
  reconcileEveryMs: 15_000,
  retryBaseMs: 1_000,
  retryCapMs: 60_000,
  alertAfterFailures: 3,
  workerConcurrency: 20,
};

export function createDeps(
  parts: Omit<Deps, "directory" | "providers" | "access" | "messenger" | "tuning">,
  tuning: Partial<Tuning> = {},
): Deps {
  const directory = new SlackDirectory(parts.slack, (groupId, error) =>
    parts.logger.warn(
      { groupId, err: (error as Error).message },
      "cannot read Slack user group; treating it as empty",
    ),
  );
  return {
    ...parts,
    directory,
    providers: new ProviderPool(parts.policy),
    access: new AccessPolicy(parts.policy, directory),
    messenger: new Messenger(parts.slack),
    tuning: { ...DEFAULT_TUNING, ...tuning },
  };
}
