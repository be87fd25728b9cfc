import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RunningJit } from "../../src/main.js";
import { verifyAudit } from "../../src/store/audit.js";
import { clickExtension, extend, extensionCardsOf } from "../support/extensions.js";
import { type Harness, startHarness } from "../support/harness.js";
import { dmsTo, fileRequest, hasButtons, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { startSlackStandin } from "../support/slack-standin.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

const SECRET = "webhook-secret-0123456789";
let h: Harness;
let replica: RunningJit;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  const standin = await startSlackStandin();
  standin.setUsergroup("S0SRE", ["U0SRE1"]);
  const policy = policyWith({
    url: receiver.url,
    secret: SECRET,
    extra: `
  - id: once
    name: Extend once
    provider: webhook
    settings: { url: "${receiver.url}", secret: "${SECRET}", timeout: 1s }
    maxDuration: 1h
    maxExtensions: 1
    approvers: { users: [U0LEAD1] }`,
  });
  h = await startHarness({ label: "extend", policy, standin });
  replica = await h.replica("all");
});
afterAll(async () => {
  await h?.stop();
  await h?.standin.close();
  await receiver?.close();
});
beforeEach(() => receiver.setMode("ok"));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const replicaUrl = () => `http://127.0.0.1:${replica.port}`;
const eventsFor = (requestId: string, event: "grant" | "revoke" | "extend") =>
  receiver.events.filter((e) => e.body.requestId === requestId && e.event === event);

/** Files a request on `resource` for `duration` and approves it; returns its id once ACTIVE. */
async function activeGrant(resource: string, duration: string): Promise<string> {
  const id = await fileRequest(h, "U0ALICE", `${resource} ${duration} deploy`);
  await h.click("U0LEAD1", "jit_approve", id);
  await waitForStatus(h, id, "ACTIVE");
  return id;
}

const grantOf = async (id: string) => {
  const grant = await h.db.grant.findUnique({ where: { requestId: id } });
  if (!grant?.expiresAt) throw new Error(`${id} has no grant`);
  return { ...grant, expiresAt: grant.expiresAt };
};

describe("/jit extend", () => {
  it("is described by /jit help", async () => {
    const sent = await h.command("U0ALICE", "help");
    const help = (sent.json as { text: string }).text;
    expect(help).toContain("/jit extend &lt;id&gt; &lt;duration&gt; &lt;reason…&gt;");
    expect(help).toContain("ask your grant's approvers for more time");
  });

  it("asks the same approvers on a card marked as an extension, then moves the expiry without a gap", async () => {
    const id = await activeGrant("deploy-hook", "6s");
    const before = await grantOf(id);

    const reply = await extend(h, "U0ALICE", `${id} 6s migration still running`);
    expect(reply).toContain(`Asked the approvers to extend ${id} by 6s`);
    const extensionId = `${id}.1`;
    // The same approvers as the request (users, group members, the approvals channel), not the grantee.
    await waitFor(() => extensionCardsOf(h.standin, extensionId).length === 4, { timeout: 10_000 });
    const cards = extensionCardsOf(h.standin, extensionId);
    expect(cards.map((c) => c.channel).sort()).toEqual(["C0APPROVALS", "D0LEAD1", "D0LEAD2", "D0SRE1"]);
    const shown = JSON.stringify(cards[0]?.blocks);
    expect(shown).toContain("*Extension*");
    expect(shown).toContain(`Extension 1 of request \`${id}\``);
    expect(shown).toContain("migration still running");

    expect(await clickExtension(h, "U0LEAD2", "jit_extension_approve", extensionId)).toContain(
      `You approved extension 1 of ${id}`,
    );
    const after = await waitFor(async () => {
      const grant = await grantOf(id);
      return grant.extensions === 1 ? grant : undefined;
    });
    // The clock moves by exactly the extension, from the old expiry (not from now).
    expect(after.expiresAt.getTime() - before.expiresAt.getTime()).toBe(6_000);
    const [event] = eventsFor(id, "extend");
    expect(event?.body).toMatchObject({ event: "extend", requestId: id, grantId: before.id });
    expect(event?.body.expiresAt).toBe(after.expiresAt.toISOString());
    expect(event?.headers["x-jit-delivery"]).toBe(`${before.id}:extend:1`);

    // No revoke at the old expiry: the access goes on.
    await sleep(Math.max(0, before.expiresAt.getTime() + 1_500 - Date.now()));
    expect(eventsFor(id, "revoke")).toHaveLength(0);
    expect(receiver.active.has(before.id)).toBe(true);
    expect((await h.db.accessRequest.findUnique({ where: { id } }))?.status).toBe("ACTIVE");

    // The grantee is told, the cards say extended without buttons, and it ends at the new expiry.
    await waitFor(() => dmsTo(h, "U0ALICE").some((m) => m.text.includes(`(${id}) was extended by 6s`)));
    await waitFor(() =>
      extensionCardsOf(h.standin, extensionId).every(
        (c) => !hasButtons(c) && JSON.stringify(c.blocks).includes("access extended until"),
      ),
    );
    const ended = await waitForStatus(h, id, "EXPIRED", 15_000);
    expect(ended.grant?.endedAt?.getTime()).toBeGreaterThanOrEqual(after.expiresAt.getTime());
    expect(eventsFor(id, "revoke")).toHaveLength(1);

    const actions = (
      await h.db.auditEvent.findMany({ where: { requestId: id }, orderBy: { seq: "asc" } })
    ).map((e) => e.action);
    expect(actions).toEqual([
      "request.created",
      "decision.approve",
      "request.approved",
      "request.active",
      "extension.requested",
      "extension.decision.approve",
      "extension.approved",
      "extension.extended",
      "request.expired",
    ]);
    expect(await verifyAudit(h.db)).toMatchObject({ ok: true });
  });

  it("a denial leaves the grant as it was and tells the grantee", async () => {
    const id = await activeGrant("deploy-hook", "1h");
    const before = await grantOf(id);
    await extend(h, "U0ALICE", `${id} 30m more`);
    await waitFor(() => extensionCardsOf(h.standin, `${id}.1`).length === 4);
    expect(await clickExtension(h, "U0SRE1", "jit_extension_deny", `${id}.1`)).toContain(
      "The grant keeps its expiry",
    );
    await waitFor(() =>
      dmsTo(h, "U0ALICE").some((m) => m.text.includes(`extension of deploy-hook (${id}) was denied`)),
    );
    const after = await grantOf(id);
    expect(after.expiresAt).toEqual(before.expiresAt);
    expect(after.extensions).toBe(0);
    expect(eventsFor(id, "extend")).toHaveLength(0);
    // The requester cannot approve their own extension (no selfApproval), and it is audited.
    expect(await extend(h, "U0ALICE", `${id} 30m again`)).toContain("Asked the approvers");
    expect(await clickExtension(h, "U0ALICE", "jit_extension_approve", `${id}.2`)).toContain(
      "you are not an approver",
    );
  });

  it("an extension nobody decides on times out by the grant's end; the grant ends as it would have", async () => {
    const id = await activeGrant("deploy-hook", "4s");
    const before = await grantOf(id);
    await extend(h, "U0ALICE", `${id} 10m nobody answers`);
    await waitFor(() => extensionCardsOf(h.standin, `${id}.1`).length === 4);
    const ended = await waitForStatus(h, id, "EXPIRED", 15_000);
    expect(ended.grant?.expiresAt).toEqual(before.expiresAt);
    await waitFor(
      async () => (await h.db.extension.findUnique({ where: { id: `${id}.1` } }))?.status === "TIMED_OUT",
    );
    await waitFor(() =>
      dmsTo(h, "U0ALICE").some((m) =>
        m.text.includes(`No approver decided on extending deploy-hook (${id})`),
      ),
    );
    await waitFor(() =>
      extensionCardsOf(h.standin, `${id}.1`).every(
        (c) => !hasButtons(c) && JSON.stringify(c.blocks).includes("No decision in time"),
      ),
    );
    expect(await clickExtension(h, "U0LEAD1", "jit_extension_approve", `${id}.1`)).toContain(
      "is already timed out",
    );
  });

  it("refuses, audits and changes nothing: not the grantee, not active, too long, pending, too many", async () => {
    const id = await activeGrant("once", "1h");
    const pendingId = await fileRequest(h, "U0ALICE", "two-keys 10m waiting");
    const extensionsBefore = await h.db.extension.count();

    expect(await extend(h, "U0MALLORY", `${id} 10m mine now`)).toContain(`You have no grant ${id}`);
    expect(await extend(h, "U0ALICE", `${pendingId} 10m early`)).toContain(
      "is pending; only active access can be extended",
    );
    expect(await extend(h, "U0ALICE", `${id} 2h greedy`)).toContain("longer than the 1h maximum for once");
    expect(await h.db.extension.count()).toBe(extensionsBefore);

    expect(await extend(h, "U0ALICE", `${id} 10m first`)).toContain("Asked the approvers");
    expect(await extend(h, "U0ALICE", `${id} 10m second`)).toContain("already waiting for approval");
    await waitFor(() => extensionCardsOf(h.standin, `${id}.1`).length === 2);
    await clickExtension(h, "U0LEAD1", "jit_extension_approve", `${id}.1`);
    await waitFor(async () => (await grantOf(id)).extensions === 1);
    expect(await extend(h, "U0ALICE", `${id} 10m third`)).toContain("already been extended 1 time(s)");
    expect(await h.db.extension.count({ where: { requestId: id } })).toBe(1);

    const refusals = await h.db.refusalCount.findMany({ where: { action: "extend.rejected" } });
    expect(refusals.map((r) => `${r.actor}: ${r.reason}`).sort()).toEqual([
      "U0ALICE: an extension is already pending",
      "U0ALICE: at the limit of 1 extensions",
      "U0ALICE: the extension is longer than maxDuration",
      "U0ALICE: the grant is not active",
      "U0MALLORY: only the grantee may extend a grant",
    ]);
    const audited = await h.db.auditEvent.count({ where: { action: "extend.rejected" } });
    expect(audited).toBe(5);
  });

  it("double clicks and two replicas give one extension", async () => {
    const id = await activeGrant("deploy-hook", "1h");
    const before = await grantOf(id);
    // The same command filed through both replicas at once: one extension, one polite refusal.
    const replies = await Promise.all([
      extend(h, "U0ALICE", `${id} 20m race`),
      extend(h, "U0ALICE", `${id} 20m race`, replicaUrl()),
    ]);
    expect(replies.filter((r) => r.includes("Asked the approvers"))).toHaveLength(1);
    expect(replies.filter((r) => r.includes("already waiting"))).toHaveLength(1);
    const extensionId = `${id}.1`;
    await waitFor(() => extensionCardsOf(h.standin, extensionId).length === 4);
    // Two approvers, each clicking twice, on both replicas.
    await Promise.all([
      clickExtension(h, "U0LEAD1", "jit_extension_approve", extensionId),
      clickExtension(h, "U0LEAD1", "jit_extension_approve", extensionId, replicaUrl()),
      clickExtension(h, "U0LEAD2", "jit_extension_approve", extensionId),
      clickExtension(h, "U0LEAD2", "jit_extension_approve", extensionId, replicaUrl()),
    ]);
    await waitFor(async () => (await grantOf(id)).extensions === 1);
    await sleep(1_500); // room for a second application, if one were coming
    const after = await grantOf(id);
    expect(after.extensions).toBe(1);
    expect(after.expiresAt.getTime() - before.expiresAt.getTime()).toBe(20 * 60_000);
    expect(eventsFor(id, "extend")).toHaveLength(1);
    expect(await h.db.extension.count({ where: { requestId: id } })).toBe(1);
    expect(dmsTo(h, "U0ALICE").filter((m) => m.text.includes(`(${id}) was extended`))).toHaveLength(1);
  });
});
