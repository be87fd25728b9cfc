/**
 * Fault test 7: jit split into two real processes (`--role web` and `--role worker`) on one
 * database and one Redis. The whole lifecycle works across them, and nothing is granted or revoked
 * twice: per grant id the webhook receiver sees exactly one grant and one revoke.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JitProcess } from "../support/jit-process.js";
import { waitFor } from "../support/wait.js";
import { auditActions, hasButtons, type Rig, startRig } from "./rig.js";

let rig: Rig;
let web: JitProcess;
let worker: JitProcess;

beforeAll(async () => {
  rig = await startRig({ label: "split" });
  // Both start at once: the migrator's lock lets them race safely.
  [web, worker] = await Promise.all([rig.spawn("web"), rig.spawn("worker")]);
}, 60_000);
afterAll(async () => {
  await rig?.stop();
});

describe("web and worker in separate processes", () => {
  it("runs the full lifecycle with one grant and one revoke per grant id", async () => {
    // The web process runs no jobs; the worker process serves no HTTP.
    expect(web.logs().some((l) => l.msg === "worker role running")).toBe(false);
    expect(worker.logs().some((l) => l.msg === "web role listening")).toBe(false);

    const expiring = await Promise.all([
      rig.fileRequest("U0ALICE", "deploy-hook 4s split roles one"),
      rig.fileRequest("U0BOB", "deploy-hook 4s split roles two"),
      rig.fileRequest("U0CAROL", "deploy-hook 4s split roles three"),
    ]);
    // Other people than above: a second pending request for deploy-hook would get the first one's id.
    const early = await rig.fileRequest("U0DAVE", "deploy-hook 1h revoked early");
    const denied = await rig.fileRequest("U0ERIN", "deploy-hook 1h denied");
    const all = [...expiring, early, denied];

    // Cards are posted by the worker (4 copies: 3 approver DMs and the channel).
    await waitFor(() => all.every((id) => rig.cardsOf(id).length === 4), { timeout: 15_000 });

    // Approvals and the deny go to the web process, twice each (a double click, two approvers).
    await Promise.all(
      [...expiring, early].flatMap((id) => [
        rig.click("U0LEAD1", "jit_approve", id),
        rig.click("U0LEAD2", "jit_approve", id),
      ]),
    );
    expect(await rig.click("U0SRE1", "jit_deny", denied)).toContain(`You denied ${denied}`);
    // The 4 s grants may already have expired by now on a busy machine; the early one has not.
    await Promise.all(expiring.map((id) => rig.waitForStatus(id, ["ACTIVE", "EXPIRED"])));
    await rig.waitForStatus(early, "ACTIVE");

    const revoke = await rig.command("U0DAVE", `revoke ${early} done already`);
    expect(await rig.reply(revoke.responseUrl)).toContain(`Revoking ${early}`);

    await rig.assertInvariants(
      {
        ...Object.fromEntries(expiring.map((id) => [id, ["EXPIRED"]])),
        [early]: ["REVOKED"],
        [denied]: ["DENIED"],
      },
      30_000,
    );
    // Let any duplicate job that might still run show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const id of [...expiring, early]) {
      expect(rig.eventsFor(id, "grant"), `${id} grants`).toHaveLength(1);
      expect(rig.eventsFor(id, "revoke"), `${id} revokes`).toHaveLength(1);
      const actions = await auditActions(rig.db, id);
      expect(actions.filter((a) => a === "request.approved")).toHaveLength(1);
      expect(actions.filter((a) => a === "request.active")).toHaveLength(1);
      expect(actions.filter((a) => a === "request.expired" || a === "request.revoked")).toHaveLength(1);
    }
    expect(rig.eventsFor(denied, "grant")).toHaveLength(0);
    for (const id of all) {
      await waitFor(() => rig.cardsOf(id).every((card) => !hasButtons(card)), { timeout: 10_000 });
      expect(rig.cardsOf(id)).toHaveLength(4);
    }
  }, 80_000);
});
