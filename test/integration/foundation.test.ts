import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, readMigrations } from "../../src/store/migrator.js";
import { runCli } from "../support/cli.js";
import {
  dropDatabase,
  type Harness,
  SIGNING_SECRET,
  startHarness,
  testDatabaseUrl,
} from "../support/harness.js";
import { startProcessBeside } from "../support/harness-process.js";
import { captureLog } from "../support/log-capture.js";
import { policyWith } from "../support/policies.js";
import { startPrivatePostgres } from "../support/private-postgres.js";
import { nowSeconds, sendSigned, slashCommandBody } from "../support/slack-requests.js";
import { waitFor } from "../support/wait.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ label: "foundation", policy: policyWith({ url: "http://127.0.0.1:9/hook" }) });
});
afterAll(() => h?.stop());

describe("HTTP endpoints", () => {
  it("answers /healthz, /readyz and /metrics", async () => {
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { postgres: "ok", redis: "ok" } });
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).toContain("# TYPE jit_slash_commands_total counter");
  });

  it("answers 503 naming Redis, and only naming it, when Redis is unreachable; logs the detail", async () => {
    const log = captureLog();
    const broken = await startHarness({
      label: "noredis",
      policy: policyWith({ url: "http://127.0.0.1:9/hook" }),
      env: { REDIS_URL: "redis://:redis-pw-0123456789@127.0.0.1:6390", LOG_LEVEL: "info" },
      role: "web",
      standin: h.standin,
      logDestination: log.stream,
    });
    try {
      const ready = await fetch(`${broken.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        status: "unavailable: redis down",
        checks: { postgres: "ok", redis: "down" },
      });
      const warning = await waitFor(() =>
        log.entries().find((l) => l.msg === "readiness check failed" && l.check === "redis"),
      );
      expect(warning.level).toBe(40);
      expect(String(warning.err).length).toBeGreaterThan(0);
      expect(log.lines.join("")).not.toContain("redis-pw-0123456789");
    } finally {
      await broken.stop();
    }
  });

  it("answers 503 naming PostgreSQL, without its host, port or driver message, when it goes down", async () => {
    const target = await startPrivatePostgres();
    const log = captureLog();
    const databaseUrl = new URL(target.adminUrl);
    databaseUrl.pathname = "/jit_readyz";
    const broken = await startHarness({
      label: "nopg",
      policy: policyWith({ url: "http://127.0.0.1:9/hook" }),
      env: { DATABASE_URL: databaseUrl.href, LOG_LEVEL: "info" },
      role: "web",
      standin: h.standin,
      logDestination: log.stream,
    });
    try {
      expect((await fetch(`${broken.url}/readyz`)).status).toBe(200);
      await target.pause();
      const ready = await fetch(`${broken.url}/readyz`);
      const text = await ready.text();
      expect(ready.status).toBe(503);
      expect(JSON.parse(text)).toEqual({
        status: "unavailable: postgres down",
        checks: { postgres: "down", redis: "ok" },
      });
      const warning = await waitFor(() =>
        log.entries().find((l) => l.msg === "readiness check failed" && l.check === "postgres"),
      );
      expect(String(warning.err).length).toBeGreaterThan(0);
      expect(log.lines.join("")).not.toContain(databaseUrl.password);
      await target.resume();
      await waitFor(async () => (await fetch(`${broken.url}/readyz`)).status === 200, { timeout: 15_000 });
    } finally {
      await broken.stop();
      await target.stop();
    }
  }, 60_000);
});

describe("Slack request verification", () => {
  const body = () =>
    slashCommandBody({ text: "help", userId: "U0ALICE", responseUrl: h.standin.responseUrl() });

  it("answers a signed /jit help with the usage, well within 3 s", async () => {
    const result = await sendSigned(h.url, body(), { secret: SIGNING_SECRET });
    expect(result.status).toBe(200);
    expect(result.ms).toBeLessThan(3_000);
    expect(result.json).toMatchObject({ response_type: "ephemeral" });
    expect((result.json as { text: string }).text).toContain(
      "/jit request &lt;resource&gt; &lt;duration&gt;",
    );
  });

  it("answers unknown subcommands with the usage", async () => {
    const result = await sendSigned(
      h.url,
      slashCommandBody({ text: "frobnicate", userId: "U0ALICE", responseUrl: h.standin.responseUrl() }),
      {
        secret: SIGNING_SECRET,
      },
    );
    expect(result.status).toBe(200);
    const text = (result.json as { text: string }).text;
    expect(text).toContain('"frobnicate" is not a /jit command');
    expect(text).toContain("/jit resources");
  });

  it.each([
    ["unsigned", { unsigned: true }],
    ["badly signed", { signature: "v0=0000000000000000000000000000000000000000000000000000000000000000" }],
    ["signed with another secret", { secret: "not-the-secret" }],
    ["six minutes old", { timestamp: nowSeconds() - 6 * 60 }],
  ])("rejects a request that is %s with 401 and records nothing", async (_name, options) => {
    const before = await h.db.auditEvent.count();
    const result = await sendSigned(
      h.url,
      slashCommandBody({
        text: "request deploy-hook 1h x",
        userId: "U0ALICE",
        responseUrl: h.standin.responseUrl(),
      }),
      {
        secret: SIGNING_SECRET,
        ...options,
      },
    );
    expect(result.status).toBe(401);
    expect(await h.db.accessRequest.count()).toBe(0);
    expect(await h.db.auditEvent.count()).toBe(before);
  });
});

describe("migrations", () => {
  it("migrates exactly once when three migrators in one process start against the same empty database (separate processes: test/store/migrator.test.ts)", async () => {
    const url = testDatabaseUrl("migrate-race");
    try {
      const results = await Promise.all([migrate(url), migrate(url), migrate(url)]);
      const expected = readMigrations().map((m) => m.name);
      expect(results.flatMap((r) => r.applied).sort()).toEqual(expected.sort());
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const rows = await client.query(
        `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations"`,
      );
      await client.end();
      expect(rows.rowCount).toBe(expected.length);
      expect(rows.rows.every((r) => r.finished_at !== null && /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
    } finally {
      await dropDatabase(url);
    }
  });

  it("refuses to start when an applied migration was changed", async () => {
    const url = testDatabaseUrl("checksum");
    try {
      await migrate(url);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`UPDATE "_prisma_migrations" SET checksum = repeat('0', 64)`);
      await client.end();
      await expect(migrate(url)).rejects.toThrow(/changed after it was applied/);
    } finally {
      await dropDatabase(url);
    }
  });
});

describe("a real process", () => {
  it("logs each Slack interaction with a request id and no secret, and exits 0 on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jit-proc-"));
    const file = join(dir, "policy.yaml");
    writeFileSync(file, policyWith({ url: "http://127.0.0.1:9/hook" }));
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "start"], {
      env: { ...process.env, ...h.env, JIT_CONFIG: file, PORT: String(port), LOG_LEVEL: "info" },
    });
    let logs = "";
    child.stdout.on("data", (chunk) => (logs += chunk));
    child.stderr.on("data", (chunk) => (logs += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await waitFor(() => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200), {
      timeout: 30_000,
    });
    const result = await sendSigned(
      `http://127.0.0.1:${port}`,
      slashCommandBody({ text: "help", userId: "U0ALICE", responseUrl: h.standin.responseUrl() }),
      { secret: SIGNING_SECRET },
    );
    expect(result.status).toBe(200);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const lines = logs
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const interaction = lines.find((l) => l.msg === "slack interaction");
    expect(interaction).toMatchObject({ user: "U0ALICE", kind: "/jit" });
    expect(String(interaction?.requestId)).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.at(-1)?.msg).toBe("stopped");
    expect(logs).not.toContain(SIGNING_SECRET);
    expect(logs).not.toContain("xoxb-test-token");
  });
});

describe("readiness while starting", () => {
  it("answers 503 'starting' until start-up is complete, then 200; a SIGTERM after that exits 0", async () => {
    // Slow channel joins hold the process between "HTTP is listening" and "started".
    h.standin.setLatency("conversations.join", 2_000);
    const { proc, url } = await startProcessBeside(h, "all", policyWith({ url: "http://127.0.0.1:9/hook" }));
    try {
      const first = await waitFor(() => fetch(`${url}/readyz`).catch(() => undefined), { timeout: 30_000 });
      expect(first.status).toBe(503);
      expect(await first.json()).toEqual({ status: "starting" });
      await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { timeout: 30_000 });
      expect(proc.logs().filter((l) => l.msg === "joined channel")).toHaveLength(2);
    } finally {
      h.standin.setLatency("conversations.join", 0);
      expect(await proc.terminate()).toBe(0);
    }
  }, 60_000);
});

describe("start-up configuration errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "jit-config-"));

  it("stops with exit 1 naming the bad key's path, and nothing else", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      policyWith({ url: "http://127.0.0.1:9/hook" }).replace("maxDuration: 4h", "maxDuration: 4 hours"),
    );
    const result = await runCli(["start"], { ...h.env, JIT_CONFIG: file, PORT: "0" });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `jit: invalid policy file ${file}:\n  - resources[0].maxDuration: must be a duration like 30m, 2h, 1d\n`,
    );
    expect(result.stdout).toBe("");
  });

  it("names an unknown key", async () => {
    const file = join(dir, "unknown.yaml");
    writeFileSync(
      file,
      policyWith({ url: "http://127.0.0.1:9/hook" }).replace("requiredApprovals:", "requiredApprovers:"),
    );
    const result = await runCli(["config", "check", file], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`resources[0]: unknown key(s) "requiredApprovers"`);
  });

  it("names a bad environment variable", async () => {
    const result = await runCli(["start"], { ...h.env, SLACK_BOT_TOKEN: "not-a-token", PORT: "0" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("SLACK_BOT_TOKEN: must be a bot token starting with xoxb-");
  });
});
