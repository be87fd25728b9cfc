/**
 * Fault test 1: Redis (a private redis-server, never the shared one) is killed and started again
 * empty while grants are active and requests are pending. Every job is gone; PostgreSQL still knows
 * what must happen, and the reconciler (every 15 s in production tuning) makes it happen: active
 * grants are revoked at expiry, pending requests still time out, and can still be approved.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JitProcess } from "../support/jit-process.js";
import { policyWith } from "../support/policies.js";
import { type PrivateRedis, startPrivateRedis } from "../support/private-redis.js";
import { waitFor } from "../support/wait.js";
import { auditActions, type Rig, startRig } from "./rig.js";

let redis: PrivateRedis;
let rig: Rig;
let jit: JitProcess;

beforeAll(async () => {
  redis = await startPrivateRedis();
  rig = await startRig({
    label: "redis",
    redisUrl: redis.url,
    policy: (url) => policyWith({ url, hookTimeout: "2s", requestTimeout: "15s" }),
  });
  jit = await rig.spawn("all");
}, 60_000);
afterAll(async () => {
  await rig?.stop();
  await redis?.stop();
});

describe("Redis restarted and flushed", () => {
  it("active grants are still revoked at expiry; pending requests still time out or can be approved", async () => {
    const active = await rig.fileRequest("U0ALICE", "deploy-hook 8s active through the flush");
    const toApprove = await rig.fileRequest("U0BOB", "deploy-hook 3s approved after the flush");
    await waitFor(() => rig.cardsOf(toApprove).length === 4, { timeout: 10_000 });
    await rig.click("U0LEAD1", "jit_approve", active);
    await rig.waitForStatus(active, "ACTIVE");
    const toTimeOut = await rig.fileRequest("U0CAROL", "deploy-hook 1h nobody decides");

    const keys = await countKeys(redis.url, rig.prefix);
    expect(keys).toBeGreaterThan(0);
    await redis.restart();
    // Flushed: jit may already have written a key or two back (it reconnects at once), but every
    // job it had queued is gone.
    expect(await countKeys(redis.url, rig.prefix)).toBeLessThan(Math.min(keys, 5));
    // jit reconnects by itself.
    await waitFor(async () => (await fetch(`${jit.url}/readyz`)).status === 200, {
      timeout: 15_000,
      interval: 200,
    });
    rig.faultCleared();

    expect(await rig.click("U0LEAD2", "jit_approve", toApprove)).toContain(`You approved ${toApprove}`);

    await rig.assertInvariants(
      { [active]: ["EXPIRED"], [toApprove]: ["EXPIRED"], [toTimeOut]: ["TIMED_OUT"] },
      45_000,
    );
    for (const id of [active, toApprove]) {
      expect(rig.eventsFor(id, "grant"), id).toHaveLength(1);
      expect(rig.eventsFor(id, "revoke"), id).toHaveLength(1);
      expect((await auditActions(rig.db, id)).filter((a) => a === "request.expired")).toHaveLength(1);
    }
    // The expiry of the grant that lived through the flush was caught by the reconciler.
    const grant = await rig.db.grant.findUniqueOrThrow({ where: { requestId: active } });
    expect(grant.endedAt?.getTime()).toBeGreaterThanOrEqual(grant.expiresAt?.getTime() ?? Infinity);
    // The requester whose request timed out is told.
    await waitFor(
      () =>
        rig.standin.messagesTo(rig.standin.dmChannelFor("U0CAROL")).some((m) => m.text.includes(toTimeOut)),
      { timeout: 10_000 },
    );
  }, 85_000);
});

async function countKeys(url: string, prefix: string): Promise<number> {
  const { Redis } = await import("ioredis");
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return (await client.keys(`${prefix}:*`)).length;
  } finally {
    client.disconnect();
  }
}
