/**
 * Fault test 2: the worker process is killed (SIGKILL) while a revocation is in flight: the
 * webhook receiver holds the revoke request open, the worker dies holding the grant's lock and its
 * BullMQ job. A new worker process takes over (BullMQ finds the stalled job once its 15 s lock
 * lapses, at its next 5 s stalled check): access is revoked, and exactly one revocation is recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyWith } from "../support/policies.js";
import { waitFor } from "../support/wait.js";
import { auditActions, type Rig, startRig } from "./rig.js";

let rig: Rig;

beforeAll(async () => {
  // A long webhook timeout: the revoke stays in flight until we kill the worker.
  rig = await startRig({ label: "crash", policy: (url) => policyWith({ url, hookTimeout: "30s" }) });
  await Promise.all([rig.spawn("web"), rig.spawn("worker", { label: "worker-1" })]);
}, 60_000);
afterAll(async () => {
  await rig?.stop();
});

describe("worker killed in the middle of a revocation", () => {
  it("a new worker revokes; one revoke, one request.expired", async () => {
    const id = await rig.fileRequest("U0ALICE", "deploy-hook 3s crash during revoke");
    await rig.click("U0LEAD1", "jit_approve", id);
    await rig.waitForStatus(id, "ACTIVE");
    const grantId = id.replace("R-", "G-");
    expect(rig.receiver.active.has(grantId)).toBe(true);

    rig.receiver.setMode("timeout");
    const hitsBefore = rig.receiver.hits;
    // The revoke request reaches the receiver at expiry and hangs there.
    await waitFor(() => rig.receiver.hits > hitsBefore, { timeout: 15_000, interval: 20 });
    const first = rig.processes.find((p) => p.role === "worker");
    await first?.kill();
    expect(first?.running()).toBe(false);
    rig.receiver.setMode("ok");

    // Nothing was recorded by the dead worker: the grant is still open in PostgreSQL.
    const open = await rig.db.grant.findUniqueOrThrow({ where: { id: grantId } });
    expect(open.endedAt).toBeNull();
    expect((await rig.db.accessRequest.findUniqueOrThrow({ where: { id } })).status).toBe("ACTIVE");

    await rig.spawn("worker", { label: "worker-2" });
    rig.faultCleared();
    await rig.assertInvariants({ [id]: ["EXPIRED"] }, 75_000);
    expect(rig.receiver.active.has(grantId)).toBe(false);
    expect(rig.eventsFor(id, "revoke")).toHaveLength(1);
    const actions = await auditActions(rig.db, id);
    expect(actions.filter((a) => a === "request.expired")).toHaveLength(1);
    expect(actions.filter((a) => a === "request.revoked")).toHaveLength(0);
    expect(actions.filter((a) => a === "grant.cleaned-up")).toHaveLength(0);
    await waitFor(
      () =>
        rig.standin
          .messagesTo(rig.standin.dmChannelFor("U0ALICE"))
          .some((m) => m.text.includes("has expired")),
      { timeout: 10_000 },
    );
  }, 89_000);
});
