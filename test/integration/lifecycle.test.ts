import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { verifyAudit } from "../../src/store/audit.js";
import { type Harness, startHarness } from "../support/harness.js";
import { cardsOf, dmsTo, fileRequest, hasButtons, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { startSlackStandin } from "../support/slack-standin.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

const SECRET = "webhook-secret-0123456789";
let h: Harness;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  const standin = await startSlackStandin();
  standin.setUsergroup("S0SRE", ["U0SRE1"]);
  standin.setUser("U0ALICE", { name: "alice", real_name: "Alice Example", email: "alice@example.com" });
  h = await startHarness({
    label: "lifecycle",
    policy: policyWith({ url: receiver.url, secret: SECRET }),
    standin,
  });
});
afterAll(async () => {
  await h?.stop();
  await h?.standin.close();
  await receiver?.close();
});
beforeEach(() => receiver.setMode("ok"));

const eventsFor = (requestId: string, event: "grant" | "revoke") =>
  receiver.events.filter((e) => e.body.requestId === requestId && e.event === event);

describe("request → cards → approve → grant → revocation at expiry", () => {
  it("runs the whole lifecycle and records every step", async () => {
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 3s ship <!channel> & fix");

    // Cards: every approver by DM (users and group members) and the approvals channel; not the requester.
    await waitFor(() => cardsOf(h.standin, id).length === 4, { timeout: 10_000 });
    const channels = cardsOf(h.standin, id)
      .map((c) => c.channel)
      .sort();
    expect(channels).toEqual(["C0APPROVALS", "D0LEAD1", "D0LEAD2", "D0SRE1"]);
    const card = cardsOf(h.standin, id)[0];
    expect(hasButtons(card ?? {})).toBe(true);
    // The reason is escaped: no ping can be smuggled in.
    expect(JSON.stringify(card?.blocks)).toContain("ship &lt;!channel&gt; &amp; fix");
    expect(JSON.stringify(card?.blocks)).not.toContain("<!channel>");

    const reply = await h.click("U0LEAD1", "jit_approve", id);
    expect(reply).toContain(`You approved ${id}`);
    const active = await waitForStatus(h, id, "ACTIVE");
    const [grant] = eventsFor(id, "grant");
    expect(grant?.body).toMatchObject({
      event: "grant",
      grantId: id.replace("R-", "G-"),
      requestId: id,
      resource: "deploy-hook",
      requester: { slackId: "U0ALICE", email: "alice@example.com", name: "Alice Example" },
      reason: "ship <!channel> & fix",
    });
    expect(grant?.body.expiresAt).toBe(active.grant?.expiresAt?.toISOString());
    // The clock starts at the grant: expiry = grant time + 3 s.
    const window = (active.grant?.expiresAt?.getTime() ?? 0) - (active.grant?.grantedAt?.getTime() ?? 0);
    expect(window).toBe(3_000);

    await waitFor(() => dmsTo(h, "U0ALICE").some((m) => m.text.includes("granted")));
    await waitFor(() =>
      cardsOf(h.standin, id).every(
        (c) => !hasButtons(c) && JSON.stringify(c.blocks).includes("access granted"),
      ),
    );

    const expired = await waitForStatus(h, id, "EXPIRED", 15_000);
    expect(eventsFor(id, "revoke")).toHaveLength(1);
    expect(receiver.active.has(id.replace("R-", "G-"))).toBe(false);
    expect(expired.grant?.endedAt?.getTime()).toBeGreaterThanOrEqual(
      expired.grant?.expiresAt?.getTime() ?? Infinity,
    );
    await waitFor(() => dmsTo(h, "U0ALICE").some((m) => m.text.includes("has expired")));

    const actions = (
      await h.db.auditEvent.findMany({ where: { requestId: id }, orderBy: { seq: "asc" } })
    ).map((e) => e.action);
    expect(actions).toEqual([
      "request.created",
      "decision.approve",
      "request.approved",
      "request.active",
      "request.expired",
    ]);
    expect(await verifyAudit(h.db)).toMatchObject({ ok: true });

    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).toMatch(/jit_request_transitions_total\{status="expired"\} [1-9]/);
    expect(metrics).toMatch(
      /jit_provider_calls_total\{provider="webhook",operation="grant",result="ok"\} [1-9]/,
    );
    expect(metrics).toMatch(/jit_revocation_lag_seconds_count [1-9]/);
  });
});

describe("decisions", () => {
  it("a deny ends the request, updates every card and tells the requester", async () => {
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 10m look at logs");
    await waitFor(() => cardsOf(h.standin, id).length === 4);
    expect(await h.click("U0SRE1", "jit_deny", id)).toContain(`You denied ${id}`);
    await waitForStatus(h, id, "DENIED");
    await waitFor(() =>
      cardsOf(h.standin, id).every(
        (c) => !hasButtons(c) && JSON.stringify(c.blocks).includes("Denied by <@U0SRE1>"),
      ),
    );
    await waitFor(() => dmsTo(h, "U0ALICE").some((m) => m.text.includes(`${id}) was denied by <@U0SRE1>`)));
    expect(eventsFor(id, "grant")).toHaveLength(0);
    expect(await h.click("U0LEAD1", "jit_approve", id)).toContain("already denied");
  });

  it("refuses and audits self-approval and clicks by non-approvers", async () => {
    const id = await fileRequest(h, "U0LEAD1", "deploy-hook 10m hotfix");
    await waitFor(() => cardsOf(h.standin, id).length === 3);
    expect(cardsOf(h.standin, id).map((c) => c.channel)).not.toContain("D0LEAD1");
    expect(await h.click("U0LEAD1", "jit_approve", id)).toContain("you cannot approve your own request");
    expect(await h.click("U0MALLORY", "jit_approve", id)).toContain(
      "you are not an approver for deploy-hook",
    );
    const rejected = await h.db.auditEvent.findMany({
      where: { requestId: id, action: "decision.rejected" },
    });
    expect(rejected.map((e) => e.actor).sort()).toEqual(["U0LEAD1", "U0MALLORY"]);
    expect((await h.db.accessRequest.findUniqueOrThrow({ where: { id } })).status).toBe("PENDING");
    expect(await h.db.decision.count({ where: { requestId: id } })).toBe(0);
  });

  it("requiredApprovals: 2 needs two distinct approvers; a repeated click counts once", async () => {
    const id = await fileRequest(h, "U0ALICE", "two-keys 10m rotate keys");
    expect(await h.click("U0LEAD1", "jit_approve", id)).toContain("needs more approvals");
    expect(await h.click("U0LEAD1", "jit_approve", id)).toContain("your vote counts once");
    expect((await h.db.accessRequest.findUniqueOrThrow({ where: { id } })).status).toBe("PENDING");
    await h.click("U0LEAD2", "jit_approve", id);
    await waitForStatus(h, id, "ACTIVE");
    expect(eventsFor(id, "grant")).toHaveLength(1);
    await h.command("U0ALICE", `revoke ${id}`);
    await waitForStatus(h, id, "REVOKED");
  });

  it("20 concurrent Approve clicks, with Slack retries, on two replicas, end in one decision and one grant", async () => {
    const replica = await h.replica("all");
    const urls = [h.url, `http://127.0.0.1:${replica.port}`];
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 10m concurrency");
    const clickers = ["U0LEAD1", "U0LEAD2", "U0SRE1"];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.click(clickers[i % 3] as string, "jit_approve", id, {
          appUrl: urls[i % 2],
          retryNum: i % 4 === 3 ? 1 : undefined,
        }),
      ),
    );
    await waitForStatus(h, id, "ACTIVE");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(eventsFor(id, "grant")).toHaveLength(1);
    expect(await h.db.grant.count({ where: { requestId: id } })).toBe(1);
    expect(await h.db.auditEvent.count({ where: { requestId: id, action: "request.approved" } })).toBe(1);
    expect(await h.db.decision.count({ where: { requestId: id } })).toBeLessThanOrEqual(3);
    await h.command("U0ALICE", `revoke ${id}`);
    await waitForStatus(h, id, "REVOKED");
  });
});

describe("withdrawing and ending access", () => {
  it("the requester cancels a pending request; nobody else can", async () => {
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 10m not needed");
    const stranger = await h.command("U0BOB", `cancel ${id}`);
    expect(await h.reply(stranger.responseUrl)).toContain(`You have no request ${id}`);
    const sent = await h.command("U0ALICE", `cancel ${id}`);
    expect(await h.reply(sent.responseUrl)).toContain(`Cancelled ${id}`);
    await waitForStatus(h, id, "CANCELLED");
    await waitFor(() =>
      cardsOf(h.standin, id).every((c) => !hasButtons(c) && JSON.stringify(c.blocks).includes("Cancelled")),
    );
  });

  it("the grantee or an admin revokes early; a stranger cannot", async () => {
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 1h debugging");
    await h.click("U0LEAD2", "jit_approve", id);
    await waitForStatus(h, id, "ACTIVE");
    const stranger = await h.command("U0BOB", `revoke ${id}`);
    expect(await h.reply(stranger.responseUrl)).toContain(`You have no grant ${id}`);
    const admin = await h.command("U0ADMIN", `revoke ${id} suspicious activity`);
    expect(await h.reply(admin.responseUrl)).toContain(`Revoking ${id}`);
    const revoked = await waitForStatus(h, id, "REVOKED");
    expect(revoked.grant?.revokeRequestedBy).toBe("U0ADMIN");
    expect(eventsFor(id, "revoke")).toHaveLength(1);
    await waitFor(() =>
      dmsTo(h, "U0ALICE").some((m) => m.text.includes("revoked by <@U0ADMIN>: suspicious activity")),
    );
  });
});

describe("faults", () => {
  it("tells the requester, without any secret, when the DM with their access could not be delivered", async () => {
    const id = await fileRequest(h, "U0CAROL", "deploy-hook 10m dm fails");
    await waitFor(() => cardsOf(h.standin, id).length === 4);
    h.standin.failNext("chat.postMessage", { error: "channel_not_found" }, 1); // the next post is the grant DM
    await h.click("U0LEAD1", "jit_approve", id);
    await waitForStatus(h, id, "ACTIVE");
    const notice = await waitFor(() =>
      dmsTo(h, "U0CAROL").find((m) => m.text.includes("could not send you its details")),
    );
    expect(notice.text).toContain(`/jit revoke ${id}`);
    expect(dmsTo(h, "U0CAROL").some((m) => m.text.includes("Access to deploy-hook granted"))).toBe(false);
    await h.command("U0CAROL", `revoke ${id}`);
    await waitForStatus(h, id, "REVOKED");
  });

  it("a Redis that lost jit's keys while a grant is active still gets it revoked (reconciler)", async () => {
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 3s flush test");
    await h.click("U0LEAD1", "jit_approve", id);
    await waitForStatus(h, id, "ACTIVE");
    const { Redis } = await import("ioredis");
    const redis = new Redis(h.env.REDIS_URL as string);
    const keys = await redis.keys(`${h.prefix}:*`);
    expect(keys.length).toBeGreaterThan(0);
    await redis.del(...keys);
    await redis.quit();
    await waitForStatus(h, id, "EXPIRED", 20_000);
    expect(eventsFor(id, "revoke")).toHaveLength(1);
  });

  it("a webhook that is down at expiry is retried, alerted, and revoked once it answers", async () => {
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 2s outage test");
    await h.click("U0LEAD1", "jit_approve", id);
    await waitForStatus(h, id, "ACTIVE");
    receiver.setMode("down");
    await waitFor(() => h.standin.messagesTo("C0AUDIT").some((m) => m.text.includes(`Revocation of ${id}`)), {
      timeout: 20_000,
    });
    expect((await h.db.accessRequest.findUniqueOrThrow({ where: { id } })).status).toBe("ACTIVE");
    receiver.setMode("ok");
    await waitForStatus(h, id, "EXPIRED", 20_000);
    expect(eventsFor(id, "revoke")).toHaveLength(1);
    await waitFor(() =>
      h.standin.messagesTo("C0AUDIT").some((m) => m.text.includes(`${id}: access to deploy-hook`)),
    );
    const failing = await h.db.auditEvent.count({ where: { requestId: id, action: "grant.revoke-failing" } });
    expect(failing).toBe(1);
  });
});

describe("bad input records nothing", () => {
  it.each([
    ["request deploy-hook 1x oops", "is not a duration"],
    ["request deploy-hook 5h too long", "longer than the 4h maximum for deploy-hook"],
    ["request nope 1h typo", 'There is no resource "nope"'],
    ["request deploy-hook 1h", "Missing the reason"],
    ["status R-ZZZZ", "There is no request R-ZZZZ"],
  ])("%s", async (text, expected) => {
    const before = { requests: await h.db.accessRequest.count(), events: await h.db.auditEvent.count() };
    const sent = await h.command("U0ALICE", text);
    expect(sent.status).toBe(200);
    const immediate = (sent.json as { text?: string } | undefined)?.text;
    const message = immediate ?? (await h.reply(sent.responseUrl));
    expect(message).toContain(expected);
    expect(await h.db.accessRequest.count()).toBe(before.requests);
    expect(await h.db.auditEvent.count()).toBe(before.events);
  });
});
