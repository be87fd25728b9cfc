/**
 * The grant and revoke paths stay safe whatever the timings: no transaction is open while a
 * provider answers, an approval that cannot be granted in time ends FAILED (never granted late),
 * a failing revocation keeps its backoff, and a policy change cannot strand a live grant.
 * Real PostgreSQL, Redis, Bolt over signed HTTP, the Slack stand-in and a webhook receiver.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runRevoke } from "../../src/app/revoke.js";
import { loadEnv } from "../../src/config/env.js";
import { parsePolicy } from "../../src/config/load-policy.js";
import { createLogger } from "../../src/log.js";
import { startJit } from "../../src/main.js";
import { directDeps } from "../properties/deps.js";
import { runCli } from "../support/cli.js";
import { type Harness, startHarness } from "../support/harness.js";
import { dmsTo, fileRequest, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

const SECRET = "webhook-secret-0123456789";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let h: Harness;
let receiver: WebhookReceiver;
let other: WebhookReceiver;

const policy = (url: string, grantTimeout = "1m") =>
  `grantTimeout: ${grantTimeout}\n${policyWith({ url, secret: SECRET, hookTimeout: "8s" })}`;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  other = await startWebhookReceiver({ secret: SECRET });
  // Backoff long enough to tell apart from the reconciler's 1 s passes.
  h = await startHarness({
    label: "grant_safety",
    policy: policy(receiver.url),
    tuning: { retryBaseMs: 5_000, retryCapMs: 5_000 },
  });
});
afterAll(async () => {
  await h?.stop();
  await receiver?.close();
  await other?.close();
});
beforeEach(() => receiver.setMode("ok"));

const grantEvents = (id: string) =>
  receiver.events.filter((e) => e.body.requestId === id && e.event === "grant");

async function sql(text: string, databaseUrl = h.databaseUrl): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * jit's connections that hold a transaction open while doing something else (as an interactive
 * transaction around a provider call would).
 */
async function openTransactions(): Promise<number> {
  const client = new pg.Client({ connectionString: h.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`,
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

describe("provider calls happen with no transaction open", () => {
  it("holds no transaction while a grant call hangs, then grants once", async () => {
    receiver.setMode("timeout"); // the receiver never answers; the provider gives up after 8 s
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 1h slow provider");
    await h.click("U0LEAD1", "jit_approve", id);
    await waitFor(() => receiver.hits > 0 && receiver.events.length === 0, { timeout: 10_000 });
    const hitsBefore = receiver.hits;
    // Sampled across the call: a transaction around it would be open the whole time.
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      samples.push(await openTransactions());
      await sleep(150);
    }
    expect(receiver.hits).toBe(hitsBefore); // still the same call in flight
    expect(Math.max(...samples)).toBe(0);
    receiver.setMode("ok");
    await waitForStatus(h, id, "ACTIVE", 20_000);
    expect(grantEvents(id)).toHaveLength(1);
  }, 40_000);
});

describe("an approval is granted within grantTimeout or not at all", () => {
  let d: Harness;
  beforeAll(async () => {
    // No worker at first: an approval's grant job waits in Redis past its deadline.
    d = await startHarness({ label: "grant_deadline", policy: policy(receiver.url, "4s"), role: "web" });
  });
  afterAll(() => d?.stop());
  const sqlOn = (text: string) => sql(text, d.databaseUrl);

  it("fails a request whose grant job could not run in time, grants nothing and tells the requester", async () => {
    const id = await fileRequest(d, "U0ALICE", "deploy-hook 1h worker down");
    await d.click("U0LEAD1", "jit_approve", id);
    await waitForStatus(d, id, "APPROVED");
    await sleep(4_500);
    await d.replica("worker");
    const failed = await waitForStatus(d, id, "FAILED", 15_000);
    expect(failed.grant?.lastError).toContain("not granted within 4s");
    expect(grantEvents(id)).toHaveLength(0);
    await waitFor(() => dmsTo(d, "U0ALICE").some((m) => m.text.includes("could not be granted")), {
      timeout: 10_000,
    });
  }, 40_000);

  it("fails an approval whose grant keeps failing outside the provider call", async () => {
    const id = await fileRequest(d, "U0BOB", "deploy-hook 1h database refuses the window");
    // Fixing the grant's window fails on every attempt, before any provider call: the request must
    // not stay APPROVED once its deadline has passed (or its attempts are spent).
    await sqlOn(`
      CREATE FUNCTION refuse_window() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected failure'; END $$;
      CREATE TRIGGER refuse_window BEFORE UPDATE ON "Grant" FOR EACH ROW
        WHEN (NEW."requestId" = '${id}' AND OLD."grantedAt" IS NULL AND NEW."grantedAt" IS NOT NULL)
        EXECUTE FUNCTION refuse_window();`);
    try {
      await d.click("U0LEAD1", "jit_approve", id);
      const failed = await waitForStatus(d, id, "FAILED", 20_000);
      expect(failed.grant?.lastError).toContain("not granted within 4s");
      expect(grantEvents(id)).toHaveLength(0);
    } finally {
      await sqlOn(`DROP TRIGGER refuse_window ON "Grant"; DROP FUNCTION refuse_window();`);
    }
  }, 40_000);
});

describe("a failing revocation keeps its backoff", () => {
  it("is not re-run by every reconciler pass", async () => {
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 2s revoke while down");
    await h.click("U0LEAD1", "jit_approve", id);
    const active = await waitForStatus(h, id, "ACTIVE");
    receiver.setMode("down");
    const revokes = () => receiver.hits;
    const before = revokes();
    await sleep(Math.max(0, (active.grant?.expiresAt?.getTime() ?? 0) - Date.now()) + 7_000);
    // 7 s past expiry with a 5 s backoff: the first attempt and at most two retries. The reconciler
    // runs every second; promoting the job on each pass would make this 7 or more.
    const attempts = revokes() - before;
    receiver.setMode("ok");
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(attempts).toBeLessThanOrEqual(3);
    await waitForStatus(h, id, "EXPIRED", 15_000);
  }, 40_000);
});

describe("a policy change cannot strand a live grant", () => {
  it("refuses to start or check a policy that removes a resource or changes its settings, naming the grant", async () => {
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 1h policy change");
    await h.click("U0LEAD1", "jit_approve", id);
    await waitForStatus(h, id, "ACTIVE");
    const start = (yaml: string) =>
      startJit({
        env: loadEnv(h.env),
        policy: parsePolicy(yaml, h.env),
        role: "web",
        logger: createLogger("silent"),
      });

    await expect(start(policy(other.url))).rejects.toThrow(
      new RegExp(`${id} \\(deploy-hook\\): the resource's settings changed`),
    );
    const removed = policy(receiver.url).replace("id: deploy-hook", "id: deploy-hook-2");
    await expect(start(removed)).rejects.toThrow(
      new RegExp(`${id} \\(deploy-hook\\): its resource was removed`),
    );
    // A new secret is not a new target: that policy starts.
    const rotated = await start(policy(receiver.url).replaceAll(SECRET, "another-secret-0123456789"));
    await rotated.stop();

    // `jit config check` says the same when it is told where the database is.
    const file = join(mkdtempSync(join(tmpdir(), "jit-strand-")), "policy.yaml");
    writeFileSync(file, policy(other.url));
    const checked = await runCli(["config", "check", file], { DATABASE_URL: h.databaseUrl });
    expect(checked.code).toBe(1);
    expect(checked.stderr).toContain(`${id} (deploy-hook): the resource's settings changed`);
    writeFileSync(file, policy(receiver.url));
    const unchanged = await runCli(["config", "check", file], { DATABASE_URL: h.databaseUrl });
    expect(unchanged.stdout).toContain("no active grant is stranded by it");
    expect(unchanged.code).toBe(0);

    // A process that runs the changed policy anyway never revokes through the new target. The
    // harness's own workers stop first, so the grant's own revocation cannot beat this one to it.
    await h.app.stop();
    const changed = directDeps(h, policy(other.url));
    try {
      await h.db.grant.update({ where: { requestId: id }, data: { revokeRequestedAt: new Date() } });
      await expect(runRevoke(changed.deps, id.replace("R-", "G-"))).rejects.toThrow(
        /changed while this grant was active/,
      );
      expect(other.hits).toBe(0);
    } finally {
      await changed.close();
    }
  }, 60_000);
});
