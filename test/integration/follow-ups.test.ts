/**
 * Lost follow-ups (issue 7, item 7): card updates and requester DMs that fail past every retry, or
 * whose jobs never reach Redis, are repaired by the reconciler from what PostgreSQL records. Every
 * copy of every card ends showing the final state; every requester hears the outcome, once.
 */
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUE_NAME } from "../../src/jobs/queue.js";
import type { RunningJit } from "../../src/main.js";
import { migrationsDir } from "../../src/paths.js";
import { migrate, readMigrations } from "../../src/store/migrator.js";
import { dropDatabase, type Harness, REDIS_URL, startHarness, testDatabaseUrl } from "../support/harness.js";
import { cardsOf, dmsTo, fileRequest, hasButtons, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { type SlackStandin, startSlackStandin } from "../support/slack-standin.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

const SECRET = "webhook-secret-0123456789";
/** A Slack platform error: the Web API client gives up at once, so each job attempt is one call. */
const DOWN = { error: "service_unavailable" } as const;
/** More failures than all the normal path's retries could use. */
const FOREVER = 300;

let h: Harness;
let receiver: WebhookReceiver;
let worker: RunningJit;
let queue: Queue;
let redis: Redis;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  const standin = await startSlackStandin();
  standin.setUsergroup("S0SRE", ["U0SRE1"]);
  // The web role alone, with a separate worker, so that a test can stop the worker (a crash).
  h = await startHarness({
    label: "followups",
    policy: policyWith({ url: receiver.url, secret: SECRET }),
    standin,
    role: "web",
  });
  worker = await h.replica("worker");
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new Queue(QUEUE_NAME, { connection: redis, prefix: h.prefix });
}, 60_000);
afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await h?.stop();
  await h?.standin.close();
  await receiver?.close();
});

/** Slack is back: the failures still queued in the stand-in are used up (no token: nothing else happens). */
async function recover(standin: SlackStandin, method: string): Promise<void> {
  const drain = async () => {
    for (;;) {
      const answer = await fetch(`${standin.url}${method}`, { method: "POST" });
      if (((await answer.json()) as { error?: string }).error === "not_authed") return;
    }
  };
  await Promise.all(Array.from({ length: 10 }, drain));
}

const failedDms = (user: string) =>
  h.standin
    .callsTo("chat.postMessage")
    .filter((c) => !c.ok && c.args.channel === h.standin.dmChannelFor(user)).length;

async function cardsShow(id: string, text: string, copies = 4): Promise<void> {
  await waitFor(
    () => {
      const cards = cardsOf(h.standin, id);
      return (
        cards.length === copies &&
        cards.every((c) => !hasButtons(c) && JSON.stringify(c.blocks).includes(text))
      );
    },
    { timeout: 30_000, interval: 200, message: `not every copy of ${id}'s card shows "${text}"` },
  );
  // And PostgreSQL knows it, so the reconciler leaves them alone.
  const request = await h.db.accessRequest.findUnique({ where: { id } });
  await waitFor(
    async () =>
      (await h.db.cardMessage.findMany({ where: { requestId: id } })).every(
        (copy) => copy.renderedStatus === request?.status,
      ),
    { message: `${id}'s copies are not recorded as showing ${request?.status}` },
  );
}

async function toldOnce(user: string, text: string): Promise<void> {
  await waitFor(() => dmsTo(h, user).some((m) => m.text.includes(text)), {
    timeout: 30_000,
    interval: 200,
    message: `${user} was never told "${text}"`,
  });
  // A few more reconciler passes (every 1 s here): a repair must not say it twice.
  await new Promise((resolve) => setTimeout(resolve, 4_000));
  expect(dmsTo(h, user).filter((m) => m.text.includes(text))).toHaveLength(1);
}

describe("follow-ups lost after a state change", () => {
  it("card updates and the denied DM that fail past every retry are repaired once Slack recovers", async () => {
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 1h slack goes down");
    await waitFor(() => cardsOf(h.standin, id).length === 4, { timeout: 15_000 });

    h.standin.failNext("chat.update", DOWN, FOREVER);
    h.standin.failNext("chat.postMessage", DOWN, FOREVER);
    expect(await h.click("U0LEAD1", "jit_deny", id)).toContain(`You denied ${id}`);
    // The normal path gives up: the card job fails for good, the DM is refused on all 8 attempts.
    await waitFor(
      async () =>
        (await queue.getJobs(["failed"])).some(
          (job) => job.name === "cards" && job.data.requestId === id && !job.id?.startsWith("cards-repair"),
        ),
      { timeout: 30_000, interval: 100, message: "the card job never failed for good" },
    );
    await waitFor(() => failedDms("U0ALICE") >= 8, { timeout: 30_000, interval: 100 });
    expect(dmsTo(h, "U0ALICE").some((m) => m.text.includes("was denied"))).toBe(false);

    await recover(h.standin, "chat.update");
    await recover(h.standin, "chat.postMessage");
    await cardsShow(id, "Denied by <@U0LEAD1>");
    await toldOnce("U0ALICE", `Your request for deploy-hook (${id}) was denied by <@U0LEAD1>`);
    const request = await h.db.accessRequest.findUnique({ where: { id } });
    expect(request?.notifiedStatus).toBe("DENIED");

    // A replayed notification (a duplicate job) says nothing new.
    await queue.add("notify", { name: "notify", requestId: id, event: "denied" }, { jobId: `replay-${id}` });
    await waitFor(async () => (await queue.getJob(`replay-${id}`))?.isCompleted());
    expect(dmsTo(h, "U0ALICE").filter((m) => m.text.includes("was denied"))).toHaveLength(1);
  }, 90_000);

  it("a copy deleted in Slack counts as done; a failing copy does not hold back the others", async () => {
    const id = await fileRequest(h, "U0FRANK", "deploy-hook 1h a copy is deleted");
    await waitFor(() => cardsOf(h.standin, id).length === 4, { timeout: 15_000 });
    const [gone] = await h.db.cardMessage.findMany({ where: { requestId: id, channel: "C0APPROVALS" } });
    const deleted = await fetch(`${h.standin.url}chat.delete`, {
      method: "POST",
      headers: { authorization: "Bearer xoxb-test-token", "content-type": "application/json" },
      body: JSON.stringify({ channel: gone?.channel, ts: gone?.ts }),
    });
    expect(((await deleted.json()) as { ok: boolean }).ok).toBe(true);

    const before = h.standin.callsTo("chat.update").length;
    h.standin.failNext("chat.update", DOWN);
    await h.click("U0LEAD2", "jit_deny", id);
    await cardsShow(id, "Denied by <@U0LEAD2>", 3);
    const updates = h.standin.callsTo("chat.update").slice(before);
    // The refused copy did not stop the same run from updating the next one.
    const refused = updates.findIndex(
      (c) => !c.ok && c.response && (c.response as { error?: string }).error === DOWN.error,
    );
    expect(updates[refused + 1]?.ok).toBe(true);
    expect(updates[refused + 1]?.args.ts).not.toBe(updates[refused]?.args.ts);
    // The deleted copy is not retried pass after pass (once the job's own retry is over).
    const tries = () => h.standin.callsTo("chat.update").filter((c) => c.args.ts === gone?.ts).length;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const settled = tries();
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(tries()).toBe(settled);
  }, 60_000);

  it("a crash between the commit and the enqueue (jobs gone from Redis) is repaired", async () => {
    const denied = await fileRequest(h, "U0BOB", "deploy-hook 1h crash after deny");
    const cancelled = await fileRequest(h, "U0CAROL", "deploy-hook 1h crash after cancel");
    await waitFor(
      () => cardsOf(h.standin, denied).length === 4 && cardsOf(h.standin, cancelled).length === 4,
      {
        timeout: 15_000,
      },
    );

    await worker.stop();
    expect(await h.click("U0LEAD2", "jit_deny", denied)).toContain(`You denied ${denied}`);
    const cancel = await h.command("U0CAROL", `cancel ${cancelled}`);
    expect(await h.reply(cancel.responseUrl)).toContain(`Cancelled ${cancelled}`);
    // Redis loses every job (a flush, or the process died right after the commit).
    await queue.obliterate({ force: true });
    worker = await h.replica("worker");

    await cardsShow(denied, "Denied by <@U0LEAD2>");
    await cardsShow(cancelled, "Cancelled by the requester");
    await toldOnce("U0BOB", `(${denied}) was denied by <@U0LEAD2>`);
    expect(dmsTo(h, "U0CAROL")).toHaveLength(0);
  }, 90_000);

  it("a granted requester gets no false notice; one whose DMs all failed is told it was undelivered", async () => {
    const told = await fileRequest(h, "U0DAVE", "deploy-hook 1h granted dm delivered");
    await waitFor(() => cardsOf(h.standin, told).length === 4, { timeout: 15_000 });
    // A slow Slack: the granted DM is still on its way after the repair's grace.
    h.standin.setLatency("chat.postMessage", 4_000);
    await h.click("U0LEAD1", "jit_approve", told);
    await waitForStatus(h, told, "ACTIVE");
    await waitFor(() => dmsTo(h, "U0DAVE").some((m) => m.text.includes("Access to deploy-hook granted")), {
      timeout: 10_000,
    });
    h.standin.setLatency("chat.postMessage", 0);
    await cardsShow(told, "access granted");
    // Well past the repair's grace (two passes): the granted DM counts as the news.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect(dmsTo(h, "U0DAVE").map((m) => m.text)).toEqual([expect.stringContaining("granted")]);

    const untold = await fileRequest(h, "U0ERIN", "deploy-hook 1h granted dm lost");
    await waitFor(() => cardsOf(h.standin, untold).length === 4, { timeout: 15_000 });
    h.standin.failNext("chat.postMessage", DOWN, FOREVER);
    await h.click("U0LEAD1", "jit_approve", untold);
    await waitForStatus(h, untold, "ACTIVE");
    // The granted DM and then all 8 attempts of the secret-free notice are refused.
    await waitFor(() => failedDms("U0ERIN") >= 9, { timeout: 30_000, interval: 100 });
    await recover(h.standin, "chat.postMessage");
    await toldOnce("U0ERIN", `(${untold}) was granted, but I could not send you its details`);
    expect(dmsTo(h, "U0ERIN").some((m) => m.text.includes("Access to deploy-hook granted"))).toBe(false);

    for (const id of [told, untold]) await h.command("U0ADMIN", `revoke ${id} done`);
    await waitForStatus(h, told, "REVOKED");
    await waitForStatus(h, untold, "REVOKED");
    await toldOnce("U0DAVE", `(${told}) was revoked by <@U0ADMIN>: done`);
  }, 120_000);
});

describe("upgrading a database with history", () => {
  it("counts existing requests as told and existing cards as shown", async () => {
    const url = testDatabaseUrl("followups_backfill");
    const before = mkdtempSync(join(tmpdir(), "jit-migrations-"));
    const [first, ...later] = readMigrations();
    expect(later.map((m) => m.name)).toContain("20261130050000_follow_up_state");
    cpSync(join(migrationsDir(), first?.name ?? ""), join(before, first?.name ?? ""), { recursive: true });
    writeFileSync(join(before, "migration_lock.toml"), 'provider = "postgresql"\n');
    await migrate(url, { dir: before });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (const [id, status] of [
        ["R-OLD1", "DENIED"],
        ["R-OLD2", "ACTIVE"],
        ["R-OLD3", "PENDING"],
        ["R-OLD4", "APPROVED"],
      ]) {
        await client.query(
          `INSERT INTO "AccessRequest" (id, "requesterId", "resourceId", "durationSec", reason, status,
             "requiredApprovals", "timeoutAt", "updatedAt")
           VALUES ($1, 'U0OLD', 'deploy-hook', 60, 'old', $2, 1, now(), now() - interval '1 day')`,
          [id, status],
        );
        await client.query(
          `INSERT INTO "CardMessage" ("requestId", channel, ts) VALUES ($1, 'C0APPROVALS', $1)`,
          [id],
        );
      }
      await migrate(url);
      const told = await client.query(`SELECT id, "notifiedStatus" FROM "AccessRequest" ORDER BY id`);
      expect(told.rows).toEqual([
        { id: "R-OLD1", notifiedStatus: "DENIED" },
        { id: "R-OLD2", notifiedStatus: "ACTIVE" },
        { id: "R-OLD3", notifiedStatus: null },
        { id: "R-OLD4", notifiedStatus: null },
      ]);
      const shown = await client.query(
        `SELECT "requestId", "renderedStatus" FROM "CardMessage" ORDER BY "requestId"`,
      );
      expect(shown.rows.map((r) => r.renderedStatus)).toEqual(["DENIED", "ACTIVE", "PENDING", "APPROVED"]);
    } finally {
      await client.end();
      await dropDatabase(url);
    }
  }, 30_000);
});
