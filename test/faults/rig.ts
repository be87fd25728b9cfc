/**
 * The fault tests' rig: jit run as real child processes (production tuning) against real
 * PostgreSQL and Redis, a Slack stand-in and a webhook receiver, plus the invariants every fault
 * test ends with: no access outlives its window, no request is lost, the audit chain verifies.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import type { RequestStatus } from "../../src/domain/lifecycle.js";
import { verifyAudit } from "../../src/store/audit.js";
import { createDb, type Db } from "../../src/store/db.js";
import { dropDatabase, REDIS_URL, SIGNING_SECRET, testDatabaseUrl } from "../support/harness.js";
import { type JitProcess, type JitRole, startJitProcess } from "../support/jit-process.js";
import { cardsOf } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { clickDecision, type SendResult, sendSigned, slashCommandBody } from "../support/slack-requests.js";
import { type SlackStandin, startSlackStandin } from "../support/slack-standin.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";
import { describeLateness, waitForWindowsToClose } from "./lateness.js";

export const HOOK_SECRET = "webhook-secret-0123456789";
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export type Status = RequestStatus;

export interface Rig {
  standin: SlackStandin;
  receiver: WebhookReceiver;
  /** A client on jit's database, for assertions (available once the first process is ready). */
  db: Db;
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  /** The environment every jit process of this rig gets. */
  env: Record<string, string>;
  processes: JitProcess[];
  /** Spawns jit with `role` and waits until it is ready. */
  spawn(role: JitRole, options?: { ready?: boolean; label?: string }): Promise<JitProcess>;
  /** The URL Slack sends to (the first live web/all process, unless `target` says otherwise). */
  webUrl(): string;
  /** Sends a signed `/jit <text>`; the HTTP answer and the response_url. */
  command(
    userId: string,
    text: string,
    options?: { target?: string; timeoutMs?: number },
  ): Promise<SendResult & { responseUrl: string }>;
  /** The first post to a response_url, as text. */
  reply(responseUrl: string, timeoutMs?: number): Promise<string>;
  /** Clicks Approve/Deny as `userId`; resolves with the ephemeral reply. */
  click(userId: string, action: "jit_approve" | "jit_deny", requestId: string): Promise<string>;
  /** Files `/jit request <text>`; resolves with the new request id. */
  fileRequest(userId: string, text: string): Promise<string>;
  waitForStatus(requestId: string, status: Status | Status[], timeoutMs?: number): Promise<void>;
  /** Webhook events the receiver accepted for a request. */
  eventsFor(requestId: string, event: "grant" | "revoke"): unknown[];
  /** Approval card copies of a request (current versions). */
  cardsOf(requestId: string): { channel: string; ts: string; blocks?: unknown[]; text: string }[];
  /**
   * Records that the test's fault (an outage, a crash, a flush) is over: from now on, grants that
   * it kept open must end within a minute (see lateness.ts). Tests without a fault never call it.
   */
  faultCleared(): void;
  /**
   * The invariants every fault test ends with; waits (up to `timeoutMs`) for requests to settle
   * into one of `expected`, then checks access (how late each grant ended, printed), requests and
   * the audit chain.
   */
  assertInvariants(expected: Record<string, Status[]>, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRig(options: {
  label: string;
  /** Policy YAML for the receiver URL; defaults to {@link policyWith} with a 2 s webhook timeout. */
  policy?: (receiverUrl: string) => string;
  redisUrl?: string;
  /** jit's database (created by the migrator); defaults to a fresh one on the shared cluster. */
  databaseUrl?: string;
  /** Drops the database at the end (default: true for the shared cluster's fresh database). */
  dropDatabase?: boolean;
}): Promise<Rig> {
  const receiver = await startWebhookReceiver({ secret: HOOK_SECRET });
  const standin = await startSlackStandin();
  standin.setUsergroup("S0SRE", ["U0SRE1"]);
  standin.setUser("U0ALICE", { name: "alice", real_name: "Alice Example", email: "alice@example.com" });
  const dir = await mkdtemp(join(tmpdir(), "jit-faults-"));
  const configPath = join(dir, "jit.config.yaml");
  await writeFile(
    configPath,
    (options.policy ?? ((url) => policyWith({ url, hookTimeout: "2s" })))(receiver.url),
  );
  const databaseUrl = options.databaseUrl ?? testDatabaseUrl(`fault_${options.label}`);
  const dropAtEnd = options.dropDatabase ?? options.databaseUrl === undefined;
  const redisUrl = options.redisUrl ?? REDIS_URL;
  const prefix = `jit-fault-${options.label}-${randomBytes(4).toString("hex")}`;
  const env: Record<string, string> = {
    SLACK_BOT_TOKEN: "xoxb-fault-test-token",
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: standin.url,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    JIT_CONFIG: configPath,
    JIT_QUEUE_PREFIX: prefix,
    LOG_LEVEL: process.env.TEST_CHILD_LOG_LEVEL ?? "info",
  };
  const processes: JitProcess[] = [];
  let db: Db | undefined;
  let responses = 0;
  let faultClearedAt: number | undefined;

  const rig: Rig = {
    standin,
    receiver,
    get db() {
      if (!db) throw new Error("no jit process has created the database yet");
      return db;
    },
    databaseUrl,
    redisUrl,
    prefix,
    env,
    processes,
    async spawn(role, spawnOptions = {}) {
      const proc = await startJitProcess({ role, env, label: spawnOptions.label });
      processes.push(proc);
      if (spawnOptions.ready !== false) await proc.ready(45_000);
      db ??= createDb(databaseUrl, 4);
      return proc;
    },
    webUrl() {
      const web = processes.find((p) => p.role !== "worker" && p.running());
      if (!web) throw new Error("no web process is running");
      return web.url;
    },
    async command(userId, text, commandOptions = {}) {
      const responseUrl = standin.responseUrl(`cmd-${++responses}`);
      const result = await sendSigned(
        commandOptions.target ?? rig.webUrl(),
        slashCommandBody({ text, userId, responseUrl }),
        { secret: SIGNING_SECRET, timeoutMs: commandOptions.timeoutMs },
      );
      return { ...result, responseUrl };
    },
    async reply(responseUrl, timeoutMs = 15_000) {
      const response = await standin.waitForResponse(responseUrl, undefined, { timeout: timeoutMs });
      return String((response.body as { text?: string }).text ?? "");
    },
    async click(userId, action, requestId) {
      const responseUrl = standin.responseUrl(`click-${++responses}`);
      await clickDecision(rig.webUrl(), SIGNING_SECRET, { userId, action, requestId, responseUrl });
      return rig.reply(responseUrl);
    },
    async fileRequest(userId, text) {
      const sent = await rig.command(userId, `request ${text}`);
      expect(sent.status).toBe(200);
      const reply = await rig.reply(sent.responseUrl);
      const id = /R-[0-9A-Z]{4,}/.exec(reply)?.[0];
      if (!id) throw new Error(`no request id in reply: ${reply}`);
      return id;
    },
    async waitForStatus(requestId, status, timeoutMs = 20_000) {
      const wanted = Array.isArray(status) ? status : [status];
      let last = "";
      await waitFor(
        async () => {
          const request = await rig.db.accessRequest.findUnique({ where: { id: requestId } });
          last = request?.status ?? "missing";
          return wanted.includes(last as Status);
        },
        { timeout: timeoutMs, interval: 100, message: `${requestId} never became ${wanted.join("|")}` },
      ).catch((error: Error) => {
        throw new Error(`${error.message} (last: ${last})`);
      });
    },
    eventsFor(requestId, event) {
      return receiver.events.filter((e) => e.body.requestId === requestId && e.event === event);
    },
    cardsOf(requestId) {
      return cardsOf(standin, requestId);
    },
    faultCleared() {
      faultClearedAt = Date.now();
    },
    async assertInvariants(expected, timeoutMs = 40_000) {
      // No request lost: each reaches one of its expected states.
      await Promise.all(
        Object.entries(expected).map(([id, states]) => rig.waitForStatus(id, states, timeoutMs)),
      );
      // No access outlives its window: each grant ends within its limit of the window closing,
      // and the receiver holds exactly the grants PostgreSQL says are active.
      const worst = await waitForWindowsToClose(rig.db, faultClearedAt);
      console.log(`[${options.label}] ${describeLateness(worst)}`);
      const open = await rig.db.grant.findMany({
        where: { endedAt: null, request: { status: "ACTIVE" } },
        select: { id: true },
      });
      expect([...receiver.active].sort()).toEqual(open.map((g) => g.id).sort());
      for (const id of Object.keys(expected)) {
        const grant = await rig.db.grant.findUnique({ where: { requestId: id } });
        if (grant?.endedAt) expect(receiver.active.has(grant.id), `${grant.id} still active`).toBe(false);
      }
      // Audit chain valid.
      expect(await verifyAudit(rig.db)).toMatchObject({ ok: true });
    },
    async stop() {
      await Promise.allSettled(processes.map((p) => p.terminate(5_000)));
      await db?.$disconnect();
      await standin.close();
      await receiver.close();
      if (dropAtEnd) await dropDatabase(databaseUrl).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

/** Counts of audit actions for a request. */
export async function auditActions(db: Db, requestId: string): Promise<string[]> {
  const events = await db.auditEvent.findMany({ where: { requestId }, orderBy: { seq: "asc" } });
  return events.map((e) => e.action);
}

export function hasButtons(message: { blocks?: unknown[] }): boolean {
  return JSON.stringify(message.blocks ?? []).includes('"type":"actions"');
}
