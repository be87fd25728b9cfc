import { randomBytes } from "node:crypto";
import pg from "pg";
import type { DestinationStream } from "pino";
import type { Tuning } from "../../src/app/deps.js";
import { loadEnv } from "../../src/config/env.js";
import { parsePolicy } from "../../src/config/load-policy.js";
import { createLogger } from "../../src/log.js";
import { type Role, type RunningJit, startJit } from "../../src/main.js";
import { createDb, type Db } from "../../src/store/db.js";
import { clickDecision, sendSigned, slashCommandBody } from "./slack-requests.js";
import { type SlackStandin, startSlackStandin } from "./slack-standin.js";

export const PG_ROOT = process.env.TEST_DATABASE_ROOT ?? "postgresql://postgres@127.0.0.1:5432";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const SIGNING_SECRET = "test-signing-secret-0123456789abcdef";

/** A fresh, uniquely named database URL (created by jit's migrator on start). */
export function testDatabaseUrl(label: string): string {
  return `${PG_ROOT}/jit_${label.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
}

export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const client = new pg.Client({ connectionString: `${PG_ROOT}/postgres` });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await client.end();
}

export const testTuning: Partial<Tuning> = {
  reconcileEveryMs: 1_000,
  retryBaseMs: 100,
  retryCapMs: 1_000,
  alertAfterFailures: 3,
  workerConcurrency: 20,
};

export interface Harness {
  url: string;
  standin: SlackStandin;
  db: Db;
  databaseUrl: string;
  prefix: string;
  env: NodeJS.ProcessEnv;
  app: RunningJit;
  /** Sends a signed `/jit <text>`; returns the HTTP answer and the response_url it gave Slack. */
  command(userId: string, text: string): Promise<{ status: number; json: unknown; responseUrl: string }>;
  /** The first ephemeral reply posted to a response_url (after the ack). */
  reply(responseUrl: string): Promise<string>;
  /** Clicks Approve or Deny on a request's card as `userId`; returns the reply text. */
  click(
    userId: string,
    action: "jit_approve" | "jit_deny",
    requestId: string,
    options?: { appUrl?: string; retryNum?: number },
  ): Promise<string>;
  /** Starts another process-like instance on the same database and Redis (another replica). */
  replica(role: Role): Promise<RunningJit>;
  stop(): Promise<void>;
}

/**
 * A running jit on its own database and Redis key prefix, talking to its own Slack stand-in.
 * Everything real: PostgreSQL, Redis, Bolt over signed HTTP.
 */
export async function startHarness(options: {
  label: string;
  policy: string;
  env?: Record<string, string>;
  tuning?: Partial<Tuning>;
  role?: Role;
  standin?: SlackStandin;
  /** Where the app's log lines go (tests that read the log); stdout otherwise. */
  logDestination?: DestinationStream;
}): Promise<Harness> {
  const standin = options.standin ?? (await startSlackStandin());
  const databaseUrl = testDatabaseUrl(options.label);
  const prefix = `jit-test-${options.label}-${randomBytes(4).toString("hex")}`;
  const env: NodeJS.ProcessEnv = {
    SLACK_BOT_TOKEN: "xoxb-test-token",
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: standin.url,
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    PORT: "0",
    JIT_QUEUE_PREFIX: prefix,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...options.env,
  };
  const start = (role: Role) =>
    startJit({
      env: loadEnv(env),
      policy: parsePolicy(options.policy, env),
      role,
      logger: createLogger(env.LOG_LEVEL, options.logDestination),
      tuning: { ...testTuning, ...options.tuning },
    });
  const app = await start(options.role ?? "all");
  const url = `http://127.0.0.1:${app.port}`;
  const db = createDb(databaseUrl, 4);
  const replicas: RunningJit[] = [];
  let responses = 0;

  const harness: Harness = {
    url,
    standin,
    db,
    databaseUrl,
    prefix,
    env,
    app,
    async command(userId, text) {
      const responseUrl = standin.responseUrl(`cmd-${++responses}`);
      const result = await sendSigned(url, slashCommandBody({ text, userId, responseUrl }), {
        secret: SIGNING_SECRET,
      });
      return { status: result.status, json: result.json, responseUrl };
    },
    async reply(responseUrl) {
      const response = await standin.waitForResponse(responseUrl, undefined, { timeout: 10_000 });
      return String((response.body as { text?: string }).text ?? "");
    },
    async click(userId, action, requestId, options = {}) {
      const responseUrl = standin.responseUrl(`click-${++responses}`);
      await clickDecision(
        options.appUrl ?? url,
        SIGNING_SECRET,
        { userId, action, requestId, responseUrl },
        options.retryNum ? { retryNum: options.retryNum, retryReason: "http_timeout" } : {},
      );
      return harness.reply(responseUrl);
    },
    async replica(role) {
      const replica = await start(role);
      replicas.push(replica);
      return replica;
    },
    async stop() {
      await Promise.allSettled(replicas.map((r) => r.stop()));
      await app.stop();
      await db.$disconnect();
      if (!options.standin) await standin.close();
      await dropDatabase(databaseUrl);
    },
  };
  return harness;
}
