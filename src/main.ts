import type { AddressInfo } from "node:net";
import { createDeps, DEFAULT_TUNING, type Tuning } from "./app/deps.js";
import { describeStrandedGrants, findStrandedGrants } from "./app/stranded-grants.js";
import type { Env } from "./config/env.js";
import type { Policy } from "./config/policy.js";
import { createMetrics } from "./http/metrics.js";
import { createHttpServer } from "./http/server.js";
import { createQueue } from "./jobs/queue.js";
import { createRedis, evictionWarning } from "./jobs/redis.js";
import { startWorkers, type Workers } from "./jobs/workers.js";
import { type Logger, scrubSecrets, throttledWarn } from "./log.js";
import { createSlackApp, identifyBot, StartupError } from "./slack/app.js";
import { type Inflight, registerSlackHandlers } from "./slack/handlers.js";
import { joinChannels } from "./slack/join-channels.js";
import { prepareAuditKey } from "./store/audit.js";
import { createDb } from "./store/db.js";
import { migrate } from "./store/migrator.js";

export type Role = "web" | "worker" | "all";

export interface RunningJit {
  /** The HTTP port actually bound (useful with PORT=0); every role serves health and metrics. */
  port: number;
  stop(): Promise<void>;
}

/**
 * The composition root: migrate, build dependencies, then start the web role (HTTP + Slack),
 * the worker role (BullMQ workers and the reconciler), or both.
 */
export async function startJit(options: {
  env: Env;
  policy: Policy;
  role: Role;
  logger: Logger;
  tuning?: Partial<Tuning>;
}): Promise<RunningJit> {
  const { env, policy, role, logger } = options;
  const identity = await identifyBot(env, logger);
  const migrated = await migrate(env.DATABASE_URL).catch((error: Error) => {
    throw new StartupError(`DATABASE_URL: cannot prepare the database: ${error.message}`);
  });
  for (const name of migrated.applied) logger.info({ migration: name }, "applied migration");

  // Room for every concurrent job's short transactions plus the web role's queries (provider calls
  // hold a lock connection of their own, see GrantLocks).
  const db = createDb(
    env.DATABASE_URL,
    (options.tuning?.workerConcurrency ?? DEFAULT_TUNING.workerConcurrency) + 10,
  );
  // These are also the client's first queries, which pay its start-up cost before the first /readyz.
  try {
    // A policy that would strand live grants must not run (see findStrandedGrants).
    const stranded = await findStrandedGrants(db, policy);
    if (stranded.length > 0) throw new StartupError(`JIT_CONFIG: ${describeStrandedGrants(stranded)}`);
    const auditKeyWarning = await prepareAuditKey(db, env.JIT_AUDIT_KEY);
    if (auditKeyWarning) logger.warn({ check: "audit-key" }, `WARNING: ${auditKeyWarning}`);
  } catch (error) {
    await db.$disconnect();
    throw error;
  }
  const redisWarn = throttledWarn(logger, "redis connection error");
  const redisError = (error: Error) => redisWarn({ err: scrubSecrets(error.message) });
  const producerRedis = createRedis(env.REDIS_URL, "producer", redisError);
  const queue = createQueue(producerRedis, env.JIT_QUEUE_PREFIX);
  queue.on("error", redisError);
  const eviction = await evictionWarning(producerRedis);
  if (eviction) logger.warn({ check: "redis-eviction" }, `WARNING: ${eviction}`);
  const metrics = createMetrics();
  const slack = createSlackApp(env, logger, identity);
  const deps = createDeps(
    { env, policy, db, queue, redis: producerRedis, slack: slack.app.client, logger, metrics },
    options.tuning,
  );

  let workers: Workers | undefined;
  let inflight: Inflight | undefined;
  if (role !== "worker") inflight = registerSlackHandlers(slack.app, deps);
  // Every role serves health, readiness and metrics, so each process can be probed and scraped;
  // only the web role answers Slack.
  let started = false;
  const server = createHttpServer({
    metrics,
    logger,
    started: () => started,
    checks: {
      postgres: () => db.$queryRaw`SELECT 1`,
      redis: () => producerRedis.ping(),
    },
    slack: role === "worker" ? undefined : slack.receiver?.requestListener,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(env.PORT, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  if (role !== "worker") {
    if (!slack.receiver) await slack.app.start();
    logger.info({ port, mode: slack.receiver ? "http" : "socket" }, "web role listening");
    await joinChannels(slack.app.client, policy, logger);
  }
  if (role !== "web") {
    workers = await startWorkers(deps, createRedis(env.REDIS_URL, "worker", redisError));
    // A worker-only process reports its health port here (the web role already did above).
    logger.info(role === "worker" ? { port } : {}, "worker role running");
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      logger.info("shutting down: no new work; finishing what is in flight");
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await inflight?.drain();
      server.closeAllConnections();
      await closed;
      if (role !== "worker" && !slack.receiver) await slack.app.stop();
      await workers?.close();
      await queue.close();
      producerRedis.disconnect();
      await db.$disconnect();
      logger.info("stopped");
    })();
    return stopping;
  };
  started = true;
  return { port, stop };
}
