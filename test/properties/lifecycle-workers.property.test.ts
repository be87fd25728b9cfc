import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";
import { policyWith } from "../support/policies.js";
import { startSlackStandin } from "../support/slack-standin.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";
import { type DirectDeps, directDeps } from "./deps.js";
import { printPaths, runScenario, scenario, type World } from "./model.js";

/**
 * The same random schedules as lifecycle.property.test.ts, but with jit's real BullMQ workers and
 * reconciler running too (harness role "all"): every approval, early revoke and failure enqueues
 * real jobs that the workers run while the schedule also runs the same jobs directly. That makes
 * every direct runGrant / runRevoke a true redelivery racing a worker, and quiescing is left to the
 * workers (time is pushed forward with the same UPDATEs; see model.ts). Not replayable step for
 * step (the workers' timing is real), so it runs fewer times; raise PROPERTY_RUNS to hunt.
 */

const SECRET = "webhook-secret-0123456789";
const NUM_RUNS = Math.max(1, Math.round(Number(process.env.PROPERTY_RUNS ?? 40) / 4));
const SEED = process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : undefined;

let h: Harness;
let receiver: WebhookReceiver;
let direct: DirectDeps;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  const standin = await startSlackStandin();
  standin.setUsergroup("S0SRE", ["U0SRE1"]);
  const policy = policyWith({ url: receiver.url, secret: SECRET });
  h = await startHarness({ label: "properties_workers", policy, standin, role: "all" });
  direct = directDeps(h, policy);
});
afterAll(async () => {
  await direct?.close();
  await h?.stop();
  await h?.standin.close();
  await receiver?.close();
});

describe("lifecycle under random interleavings, racing jit's own workers", () => {
  it(
    "at most one grant per request, every grant revoked, statuses follow TRANSITIONS, audit chain valid",
    async () => {
      const world: World = { deps: direct.deps, receiver, workers: true };
      await fc.assert(
        fc.asyncProperty(scenario, (s) => runScenario(world, s)),
        { numRuns: NUM_RUNS, seed: SEED },
      );
      printPaths();
    },
    Math.max(120_000, NUM_RUNS * 20_000),
  );
});
