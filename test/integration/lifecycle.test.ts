import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { verifyAudit } from "../../src/store/audit.js";
import { type Harness, SIGNING_SECRET, startHarness } from "../support/harness.js";
import { startJitProcess } from "../support/jit-process.js";
import { cardsOf, dmsTo, fileRequest, hasButtons, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { decisionClickBody, signedDelivery } from "../support/slack-requests.js";
import { startSlackStandin } from "../support/slack-standin.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

const SECRET = "webhook-secret-0123456789";
/** Twenty approvers of one resource, three of whom must approve. */
const CROWD = Array.from({ length: 20 }, (_, i) => `U0CROWD${String(i + 1).padStart(2, "0")}`);
const CROWD_APPROVALS = 3;
let POLICY: string;
let h: Harness;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  const standin = await startSlackStandin();
  standin.setUsergroup("S0SRE", ["U0SRE1"]);
  standin.setUser("U0ALICE", { name: "alice", real_name: "Alice Example", email: "alice@example.com" });
  POLICY = policyWith({
    url: receiver.url,
    secret: SECRET,
    extra: `
  - id: crowd
    name: Crowd-approved
    provider: webhook
    settings: { url: "${receiver.url}", secret: "${SECRET}" }
    maxDuration: 1h
    approvers: { users: [${CROWD.join(", ")}] }
    requiredApprovals: ${CROWD_APPROVALS}`,
  });
  h = await startHarness({ label: "lifecycle", policy: POLICY, standin });
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

  it("20 approvers click Approve at once across two replicas (one a separate process), with Slack's redeliveries: one vote per approver until approved, one approval, one grant", async () => {
    // A second replica: a real jit process (web role: jobs stay with the harness's workers, which
    // run test tuning) on the same database and Redis, with its own connection pool. Starting it
    // takes a while on a busy machine, hence the long timeout.
    const dir = await mkdtemp(join(tmpdir(), "jit-replica-"));
    await writeFile(join(dir, "jit.config.yaml"), POLICY);
    const replica = await startJitProcess({
      role: "web",
      env: {
        ...(h.env as Record<string, string>),
        JIT_CONFIG: join(dir, "jit.config.yaml"),
        LOG_LEVEL: "info",
      },
    });
    try {
      await replica.ready(45_000);
      const urls = [h.url, replica.url];
      const id = await fileRequest(h, "U0ALICE", "crowd 10m concurrency");

      // Each approver clicks once; every other click is redelivered by Slack (the very same signed
      // bytes, marked as a retry) to the other replica, overlapping the first delivery.
      const clicks = CROWD.map((userId, i) => {
        const responseUrl = h.standin.responseUrl(`crowd-${i}`);
        const body = decisionClickBody({ userId, action: "jit_approve", requestId: id, responseUrl });
        return {
          userId,
          responseUrl,
          delivery: signedDelivery(body, SIGNING_SECRET),
          redelivered: i % 2 === 0,
        };
      });
      const sent = await Promise.all(
        clicks.flatMap((c, i) => [
          c.delivery.send(urls[i % 2] as string),
          ...(c.redelivered
            ? [c.delivery.send(urls[(i + 1) % 2] as string, { num: 1, reason: "http_timeout" })]
            : []),
        ]),
      );
      for (const answer of sent) expect(answer.status).toBe(200);
      // The replica process really took its share (the in-process one logs nothing).
      const toReplica = clicks.filter((c, i) => i % 2 === 1 || c.redelivered).length;
      await waitFor(() => replica.logs().filter((l) => l.msg === "slack interaction").length === toReplica, {
        message: "the replica did not receive its deliveries",
      });

      // Every delivery is answered, and every answer is one of the expected ones.
      const replies = await waitFor(
        () => {
          const all = clicks.map((c) => ({
            userId: c.userId,
            texts: h.standin
              .responsesTo(c.responseUrl)
              .map((r) => String((r.body as { text?: string }).text)),
          }));
          return all.every((r, i) => r.texts.length === (clicks[i]?.redelivered ? 2 : 1)) ? all : undefined;
        },
        { timeout: 20_000, message: "a click was never answered" },
      );
      const counted = new Set<string>();
      for (const { userId, texts } of replies) {
        for (const text of texts) {
          expect(text, `${userId}: ${text}`).toMatch(
            new RegExp(
              `^(You approved ${id}\\. (It needs more approvals|Access is being granted)\\.|You already voted on ${id}; your vote counts once\\.|:warning: ${id} is already (approved|active); nothing changed\\.)$`,
            ),
          );
          if (text.startsWith("You approved")) counted.add(userId);
        }
        // A redelivery never counts as a second vote.
        expect(texts.filter((t) => t.startsWith("You approved")).length, userId).toBeLessThanOrEqual(1);
      }
      const granting = replies.flatMap((r) => r.texts).filter((t) => t.includes("Access is being granted"));
      expect(granting).toHaveLength(1);

      // Exactly the votes cast before the approval were recorded: one per approver told so.
      const decisions = await h.db.decision.findMany({ where: { requestId: id } });
      expect(decisions.map((d) => d.approverId).sort()).toEqual([...counted].sort());
      expect(decisions).toHaveLength(CROWD_APPROVALS);
      const actions = (await h.db.auditEvent.findMany({ where: { requestId: id } })).map((e) => e.action);
      expect(actions.filter((a) => a === "decision.approve")).toHaveLength(CROWD_APPROVALS);
      expect(actions.filter((a) => a === "request.approved")).toHaveLength(1);

      await waitForStatus(h, id, "ACTIVE");
      expect(await h.db.grant.count({ where: { requestId: id } })).toBe(1);
      expect(eventsFor(id, "grant")).toHaveLength(1);
      await h.command("U0ALICE", `revoke ${id}`);
      await waitForStatus(h, id, "REVOKED");
      expect(eventsFor(id, "grant")).toHaveLength(1);
    } finally {
      await replica.terminate(5_000);
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
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
