import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decide } from "../../src/app/decide.js";
import type { Deps } from "../../src/app/deps.js";
import { runGrant } from "../../src/app/grant.js";
import { requestAccess } from "../../src/app/request-access.js";
import { runRevoke } from "../../src/app/revoke.js";
import { revokeEarly } from "../../src/app/withdraw.js";
import { grantIdFor } from "../../src/domain/ids.js";
import { type Harness, startHarness } from "../support/harness.js";
import { policyWith } from "../support/policies.js";
import { startSlackStandin } from "../support/slack-standin.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";
import { type DirectDeps, directDeps } from "./deps.js";
import { ADMIN, printPaths, quiesce, runScenario, scenario, type World } from "./model.js";

/**
 * Random interleavings of the whole lifecycle against the real use-cases, PostgreSQL, Redis (for
 * the jobs they enqueue) and a webhook provider over HTTP. The model and the invariants: model.ts.
 *
 * The harness runs only the web role, so no BullMQ worker races the schedule: the property itself
 * plays the workers, calling runGrant / runRevoke / runTimeout / reconcile in the order (and with
 * the overlap, via Promise.all) that fast-check chose, including duplicate deliveries of the same
 * job and duplicate clicks. A failing seed therefore replays the same steps.
 *
 * Time: the database clock cannot be faked. Grants last 1–3 s and the schedule sometimes sleeps,
 * so real expiries happen; on top of that the `expire` step moves a started grant's expiresAt into
 * the past with a direct UPDATE, and the `timeout` step does the same to a pending request's
 * timeoutAt. Both are exactly what the passing of time would do to those rows.
 *
 * Every run files fresh requests, so runs are independent of each other; checks look only at the
 * run's own requests (and at the whole audit chain).
 */

const SECRET = "webhook-secret-0123456789";
const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 40);
const SEED = process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : undefined;

let h: Harness;
let receiver: WebhookReceiver;
let direct: DirectDeps;
let deps: Deps;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  const standin = await startSlackStandin();
  standin.setUsergroup("S0SRE", ["U0SRE1"]);
  const policy = policyWith({ url: receiver.url, secret: SECRET });
  h = await startHarness({ label: "properties", policy, standin, role: "web" });
  direct = directDeps(h, policy);
  deps = direct.deps;
});
afterAll(async () => {
  // No worker consumes this prefix; drop what the runs enqueued.
  await deps?.queue.obliterate({ force: true }).catch(() => undefined);
  await direct?.close();
  await h?.stop();
  await h?.standin.close();
  await receiver?.close();
});

describe("lifecycle under random interleavings (fast-check, real PostgreSQL/Redis/webhook)", () => {
  it(
    "at most one grant per request, every grant revoked, statuses follow TRANSITIONS, audit chain valid",
    async () => {
      const world: World = { deps, receiver, workers: false };
      await fc.assert(
        fc.asyncProperty(scenario, (s) => runScenario(world, s)),
        { numRuns: NUM_RUNS, seed: SEED },
      );
      printPaths();
    },
    Math.max(120_000, NUM_RUNS * 8_000),
  );
});

describe("a revocation requested before the grant job runs", () => {
  /**
   * Product bug (src/app/grant.ts, runGrant: the checks before and inside withGrantLock look at
   * `request.status` and `endedAt` only, never at `revokeRequestedAt`). `/jit revoke` is accepted for
   * an APPROVED request whose grant job has not run yet (withdraw.ts: GRANTED_STATES includes
   * APPROVED) and answers "Revoking … now". If the grant job then takes the grant lock before the
   * revoke job does (both are enqueued; with real workers it is a coin toss), jit grants access
   * that was already revoked, DMs the credentials, and only then revokes it. The revocation must win:
   * once revokeRequestedAt is committed, no grant may reach the provider.
   */
  it("never grants at the provider after the revocation was committed", async () => {
    const steps = fc.shuffledSubarray(["revokeEarly", "grant", "revoke"] as const, {
      minLength: 3,
      maxLength: 3,
    });
    await fc.assert(
      fc.asyncProperty(steps, fc.constantFrom("U0ALICE", ADMIN), async (order, revoker) => {
        receiver.setMode("ok");
        const filedOutcome = await requestAccess(deps, {
          requesterId: "U0ALICE",
          resourceId: "deploy-hook",
          durationSec: 60,
          reason: "revoke before grant",
        });
        const id = filedOutcome.ok ? (filedOutcome.requestId as string) : "";
        const grantId = grantIdFor(id);
        expect((await decide(deps, { requestId: id, approverId: "U0LEAD1", outcome: "APPROVE" })).ok).toBe(
          true,
        );
        let revokedAt: number | null = null; // receiver.events.length when the revocation committed
        for (const step of order) {
          if (step === "revokeEarly") {
            expect((await revokeEarly(deps, revoker, id, "changed my mind")).ok).toBe(true);
            revokedAt = receiver.events.length;
          }
          if (step === "grant") await runGrant(deps, grantId, { isLast: false });
          if (step === "revoke") await runRevoke(deps, grantId);
        }
        await quiesce(
          { deps, receiver, workers: false },
          [{ id, grantId, requesterId: "U0ALICE", resourceId: "deploy-hook", durationSec: 60 }],
          [],
        );
        const grantsAfter = receiver.events
          .slice(revokedAt ?? 0)
          .filter((e) => e.event === "grant" && e.body.grantId === grantId);
        expect(grantsAfter, `order ${order.join(" → ")}: granted after the revocation`).toEqual([]);
        expect(receiver.active.has(grantId)).toBe(false);
      }),
      { numRuns: 12, seed: SEED },
    );
  });
});
