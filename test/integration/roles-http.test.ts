/**
 * Every role serves /healthz, /readyz and /metrics on PORT (contract "HTTP"), so a split deployment
 * can probe and scrape its workers too; only the web roles answer Slack.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../../src/main.js";
import { type Harness, SIGNING_SECRET, startHarness } from "../support/harness.js";
import { startProcessBeside } from "../support/harness-process.js";
import { policyWith } from "../support/policies.js";
import { sendSigned, slashCommandBody } from "../support/slack-requests.js";
import { waitFor } from "../support/wait.js";

const policy = policyWith({ url: "http://127.0.0.1:9/hook" });
/** The metrics a worker produces: they are useless unless the worker itself can be scraped. */
const WORKER_METRICS = ["jit_provider_calls_total", "jit_revocation_lag_seconds", "jit_active_grants"];

let h: Harness;
const urls = {} as Record<Role, string>;

beforeAll(async () => {
  h = await startHarness({ label: "roleshttp", policy });
  urls.all = h.url;
  for (const role of ["web", "worker"] as const) {
    urls[role] = `http://127.0.0.1:${(await h.replica(role)).port}`;
  }
});
afterAll(() => h?.stop());

/** Asserts the three operational endpoints of the process at `url`. */
async function expectProbesAndMetrics(url: string) {
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  const ready = await fetch(`${url}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({ status: "ready", checks: { postgres: "ok", redis: "ok" } });
  const metrics = await fetch(`${url}/metrics`);
  expect(metrics.status).toBe(200);
  expect(metrics.headers.get("content-type")).toContain("text/plain");
  const text = await metrics.text();
  for (const name of WORKER_METRICS) expect(text).toContain(`# TYPE ${name} `);
}

describe.each(["all", "web", "worker"] as const)("the %s role", (role) => {
  it("serves /healthz, /readyz and /metrics", async () => {
    await expectProbesAndMetrics(urls[role]);
  });
});

describe("Slack's endpoint", () => {
  const help = () =>
    slashCommandBody({ text: "help", userId: "U0ALICE", responseUrl: h.standin.responseUrl() });

  it("is served by the web role", async () => {
    expect((await sendSigned(urls.web, help(), { secret: SIGNING_SECRET })).status).toBe(200);
  });

  it("is not served by a worker: a signed command gets 404 and nothing happens", async () => {
    const before = h.standin.responses.length;
    const result = await sendSigned(urls.worker, help(), { secret: SIGNING_SECRET });
    // jit's own 404, at once: not Bolt giving up on an unhandled event after 3 s.
    expect(result.status).toBe(404);
    expect(result.json).toEqual({ error: "not found" });
    expect(result.ms).toBeLessThan(1_000);
    expect(h.standin.responses.length).toBe(before);
  });
});

describe("a real `jit start --role worker` process", () => {
  it("serves the three endpoints on PORT and 404 on /slack/events", async () => {
    const { proc: worker, port, url } = await startProcessBeside(h, "worker", policy);
    try {
      await worker.ready();
      // Like an orchestrator, wait for a ready answer: each check has 2 s, tight on a busy machine.
      await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { timeout: 20_000 });
      await expectProbesAndMetrics(url);
      const events = await fetch(`${url}/slack/events`, { method: "POST", body: "{}" });
      expect(events.status).toBe(404);
      expect(worker.logs().find((l) => l.msg === "worker role running")).toMatchObject({ port });
      expect(worker.logs().some((l) => l.msg === "web role listening")).toBe(false);
    } finally {
      expect(await worker.terminate()).toBe(0);
    }
  }, 60_000);
});
