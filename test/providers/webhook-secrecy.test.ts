/**
 * The webhook end to end (real Bolt over signed HTTP, PostgreSQL, Redis, the Slack stand-in, a real
 * receiver): a URL whose path and query are the receiver's tokens never reaches Slack, the audit
 * log, the database or the logs, whatever way the receiver fails; 3xx and 4xx answers are retried;
 * every retry of one event carries the same X-JIT-Delivery.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadEnv } from "../../src/config/env.js";
import { parsePolicy } from "../../src/config/load-policy.js";
import { type RunningJit, startJit } from "../../src/main.js";
import { type Harness, startHarness, testTuning } from "../support/harness.js";
import { dmsTo, fileRequest, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { startSlackStandin } from "../support/slack-standin.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

const SECRET = "webhook-secret-0123456789";
const PATH_TOKEN = "e2ePathT0K3N5150";
const QUERY_TOKEN = "e2eQueryT0K3N7777";

let receiver: WebhookReceiver;
let h: Harness;
let worker: RunningJit;
let host: string;
/** Every line the worker logged, at `trace`: the provider calls and their failures happen there. */
const logLines: string[] = [];

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET, path: `/hooks/${PATH_TOKEN}?key=${QUERY_TOKEN}` });
  host = new URL(receiver.url).origin;
  const policy = policyWith({ url: receiver.url, secret: SECRET, hookTimeout: "300ms" });
  const standin = await startSlackStandin();
  standin.setUsergroup("S0SRE", ["U0SRE1"]);
  standin.setUser("U0ALICE", { name: "alice", real_name: "Alice Example", email: "alice@example.com" });
  h = await startHarness({ label: "webhook_secrecy", policy, role: "web", standin });
  const logger = pino(
    { level: "trace" },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString("utf8"));
        done();
      },
    }),
  );
  worker = await startJit({
    env: loadEnv(h.env),
    policy: parsePolicy(policy, h.env),
    role: "worker",
    logger,
    tuning: testTuning,
  });
}, 30_000);

afterAll(async () => {
  await worker?.stop();
  await h?.stop();
  await h?.standin.close();
  await receiver?.close();
});

beforeEach(() => receiver.setMode("ok"));

async function approved(reason: string, duration = "1h"): Promise<string> {
  const id = await fileRequest(h, "U0ALICE", `deploy-hook ${duration} ${reason}`);
  expect(await h.click("U0LEAD1", "jit_approve", id)).toContain(`You approved ${id}`);
  return id;
}

function postsFor(grantId: string) {
  return receiver.requests.filter(
    (r) => r.method === "POST" && r.headers["x-jit-delivery"]?.toString().startsWith(grantId),
  );
}

describe("webhook answers other than 2xx are retried", () => {
  it.each([403, 301])(
    "a receiver answering %i three times, then 200, grants; one delivery id throughout",
    async (status) => {
      receiver.failNext(3, status);
      const id = await approved(`retry after ${status}`);
      const active = await waitForStatus(h, id, "ACTIVE", 20_000);
      const grantId = active.grant?.id ?? "";
      const revoked = await h.command("U0ALICE", `revoke ${id}`);
      expect(revoked.status).toBe(200);
      await waitForStatus(h, id, "REVOKED", 20_000);
      const posts = postsFor(grantId);
      expect(posts.map((p) => p.status)).toEqual([status, status, status, 200, 204]);
      const ids = posts.map((p) => p.headers["x-jit-delivery"]);
      expect(new Set(ids.slice(0, 4)).size).toBe(1);
      expect(ids[4]).not.toBe(ids[0]);
      expect(receiver.requests.some((r) => r.url === "/elsewhere")).toBe(false);
    },
  );
});

describe("a webhook URL with tokens in its path and query", () => {
  it("a grant failing with 500 (an error page quoting the path), then connection refused, then no answer", async () => {
    receiver.setMode("status", 500);
    const echoed = await approved("echoing error page");
    await waitForStatus(h, echoed, "FAILED", 30_000);

    await receiver.pause();
    let refused: string;
    try {
      refused = await approved("nothing listening");
      await waitForStatus(h, refused, "FAILED", 30_000);
    } finally {
      await receiver.resume();
    }

    receiver.setMode("timeout");
    const silent = await approved("no answer");
    await waitForStatus(h, silent, "FAILED", 30_000);

    // The error each failure recorded (the grant's lastError moves on: its clean-up revoke fails too).
    const failed = await h.db.auditEvent.findMany({
      where: { requestId: { in: [echoed, refused, silent] }, action: "request.failed" },
    });
    const byRequest = Object.fromEntries(
      failed.map((e) => [e.requestId, String((e.details as { error?: string }).error)]),
    );
    expect(byRequest[echoed]).toMatch(/HTTP 500: status 500: cannot POST/);
    expect(byRequest[refused]).toMatch(/ECONNREFUSED/);
    expect(byRequest[silent]).toMatch(/no answer within 300 ms/);
    for (const id of [echoed, refused, silent]) {
      await waitFor(() => dmsTo(h, "U0ALICE").some((m) => m.text.includes(`(${id}) could not be granted`)));
    }
    expect(dmsTo(h, "U0ALICE").some((m) => m.text.includes(`to ${host} failed`))).toBe(true);
  }, 90_000);

  it("a granted DM shows the host; a failing revocation's alert and recovery name the host only", async () => {
    const id = await approved("revocation outage", "2s");
    await waitForStatus(h, id, "ACTIVE");
    await waitFor(() => dmsTo(h, "U0ALICE").some((m) => m.text.includes(`(${id}), until`)));
    const granted = dmsTo(h, "U0ALICE").find((m) => m.text.includes(`(${id}), until`));
    expect(granted?.text).toContain(`endpoint: ${host}`);
    receiver.setMode("status", 500);
    await waitFor(() => h.standin.messagesTo("C0AUDIT").some((m) => m.text.includes(`Revocation of ${id}`)), {
      timeout: 20_000,
    });
    receiver.setMode("ok");
    await waitForStatus(h, id, "EXPIRED", 20_000);
    await waitFor(() =>
      h.standin.messagesTo("C0AUDIT").some((m) => m.text.includes(`${id}: access to deploy-hook`)),
    );
    const alert = h.standin.messagesTo("C0AUDIT").find((m) => m.text.includes(`Revocation of ${id}`));
    expect(alert?.text).toContain(`to ${host} failed: HTTP 500`);
  }, 60_000);

  it("appears in no audit row, no grant row, no Slack call and no log line", async () => {
    const json = (value: unknown) =>
      JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    const audit = json(await h.db.auditEvent.findMany());
    const grants = json(await h.db.grant.findMany());
    const slack = JSON.stringify(h.standin.calls.map((c) => c.args));
    const logs = logLines.join("");
    // The places looked at did record the failures and the host, so their silence about the tokens means something.
    expect(audit).toContain(host);
    expect(grants).toContain("HTTP 500");
    expect(slack).toContain(host);
    expect(logs).toContain("HTTP 500");
    for (const [where, text] of Object.entries({ audit, grants, slack, logs })) {
      expect(text.includes(PATH_TOKEN), `${where} holds the path token`).toBe(false);
      expect(text.includes(QUERY_TOKEN), `${where} holds the query token`).toBe(false);
      expect(text.includes(SECRET), `${where} holds the signing secret`).toBe(false);
    }
  });
});
