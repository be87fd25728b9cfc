/**
 * Fault test 4: the provider (a webhook receiver) answers 503 from just before expiry for a while,
 * then recovers. jit runs as a real process with production retries (1 s base, doubling, 60 s cap;
 * the reconciler re-promotes the revocation every 15 s). The audit channel is alerted while it
 * fails, the grant is revoked once the provider answers, and the revocation is recorded once.
 *
 * The outage lasts ~10 s by default. The two-minute outage runs with `JIT_SOAK=1`
 * (this file then takes about two and a half minutes).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.js";
import { auditActions, type Rig, sleep, startRig } from "./rig.js";

const SOAK = process.env.JIT_SOAK === "1";
const OUTAGE_MS = SOAK ? 120_000 : 10_000;
let rig: Rig;

beforeAll(async () => {
  rig = await startRig({ label: "outage" });
  await rig.spawn("all");
}, 60_000);
afterAll(async () => {
  await rig?.stop();
});

describe("a provider that fails for a while and then recovers", () => {
  it(
    `alerts while failing and revokes once it answers (outage ${OUTAGE_MS / 1000} s)`,
    async () => {
      const id = await rig.fileRequest("U0ALICE", "deploy-hook 3s outage during expiry");
      await rig.click("U0LEAD1", "jit_approve", id);
      await rig.waitForStatus(id, "ACTIVE");
      const grantId = id.replace("R-", "G-");
      rig.receiver.setMode("down");
      const downAt = Date.now();

      // Three failed attempts (≈ 0 s, 1 s, 3 s after expiry) alert the audit channel.
      await waitFor(
        () => rig.standin.messagesTo("C0AUDIT").some((m) => m.text.includes(`Revocation of ${id}`)),
        { timeout: Math.max(OUTAGE_MS - 1_000, 8_000), interval: 100 },
      );
      const alert = rig.standin.messagesTo("C0AUDIT").find((m) => m.text.includes(`Revocation of ${id}`));
      expect(alert?.text).toMatch(/has failed \d+ times and is still being retried/);
      expect(alert?.text).toContain("503");
      // Still failing: access is not marked as ended while the provider has not confirmed.
      const during = await rig.db.grant.findUniqueOrThrow({ where: { id: grantId } });
      expect(during.endedAt).toBeNull();
      expect(during.revokeFailures).toBeGreaterThanOrEqual(3);
      expect(rig.receiver.active.has(grantId)).toBe(true);

      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
      expect((await rig.db.accessRequest.findUniqueOrThrow({ where: { id } })).status).toBe("ACTIVE");
      rig.receiver.setMode("ok");
      rig.faultCleared();
      const upAt = Date.now();

      // Backoff (≤ 60 s) or the reconciler (≤ 15 s) tries again soon after it recovers.
      await rig.assertInvariants({ [id]: ["EXPIRED"] }, 40_000);
      const lagAfterRecovery = Date.now() - upAt;
      expect(lagAfterRecovery).toBeLessThan(35_000);
      expect(rig.receiver.active.has(grantId)).toBe(false);
      expect(rig.eventsFor(id, "revoke")).toHaveLength(1);
      await waitFor(
        () =>
          rig.standin
            .messagesTo("C0AUDIT")
            .some((m) => m.text.includes(`${id}: access to deploy-hook`) && m.text.includes("now revoked")),
        { timeout: 10_000 },
      );
      const actions = await auditActions(rig.db, id);
      expect(actions.filter((a) => a === "grant.revoke-failing")).toHaveLength(1);
      expect(actions.filter((a) => a === "request.expired")).toHaveLength(1);
      // One alert, not one per failed attempt.
      expect(
        rig.standin.messagesTo("C0AUDIT").filter((m) => m.text.includes(`Revocation of ${id}`)),
      ).toHaveLength(1);
      await waitFor(
        () =>
          rig.standin
            .messagesTo(rig.standin.dmChannelFor("U0ALICE"))
            .some((m) => m.text.includes("has expired")),
        { timeout: 10_000 },
      );
    },
    SOAK ? 240_000 : 75_000,
  );
});
