import type { WebClient } from "@slack/web-api";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Env } from "../config/env.js";
import type { Policy } from "../config/policy.js";
import type { Metrics } from "../http/metrics.js";
import type { Logger } from "../log.js";
import { ProviderPool } from "../providers/pool.js";
import type { Db } from "../store/db.js";
import { GrantLocks } from "../store/grant-locks.js";
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
  /** Serializes each grant with its revocation, with no transaction open during provider calls. */
  locks: GrantLocks;
  tuning: Tuning;
  /**
   * True the first time `key` is seen (within a day): Slack may deliver the same slash command
   * twice, and filing a request is the one command that is not idempotent by itself.
   * If Redis cannot answer, we let it through rather than drop a user's command.
   */
  firstDelivery(key: string): Promise<boolean>;
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
  /** A crashed worker's job is taken over within about lockDurationMs + stalledIntervalMs. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** Provider objects younger than this are left out of the reconciler's sweep (see sweepEnded). */
  sweepMinAgeMs: number;
}

export const DEFAULT_TUNING: Tuning = {
  reconcileEveryMs: 15_000,
  retryBaseMs: 1_000,
  retryCapMs: 60_000,
  alertAfterFailures: 3,
  workerConcurrency: 20,
  lockDurationMs: 15_000,
  stalledIntervalMs: 5_000,
  sweepMinAgeMs: 5 * 60_000,
};

export function createDeps(
  parts: Omit<
    Deps,
    "directory" | "providers" | "access" | "messenger" | "locks" | "tuning" | "firstDelivery"
  >,
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
    providers: new ProviderPool(parts.policy, parts.env.DATABASE_URL),
    access: new AccessPolicy(parts.policy, directory),
    messenger: new Messenger(parts.slack),
    // One lock connection per concurrent grant or revoke job, plus room for a reconciler pass.
    locks: new GrantLocks(
      parts.env.DATABASE_URL,
      (tuning.workerConcurrency ?? DEFAULT_TUNING.workerConcurrency) + 2,
    ),
    tuning: { ...DEFAULT_TUNING, ...tuning },
    firstDelivery: (key) =>
      parts.redis
        .set(`${parts.env.JIT_QUEUE_PREFIX}:seen:${key}`, "1", "EX", 86_400, "NX")
        .then((answer) => answer === "OK")
        .catch(() => true),
  };
}
