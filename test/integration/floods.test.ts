import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningJit } from "../../src/main.js";
import { verifyAudit } from "../../src/store/audit.js";
import { type Harness, SIGNING_SECRET, startHarness } from "../support/harness.js";
import { cardsOf, fileRequest } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { sendSigned, slashCommandBody, submitView } from "../support/slack-requests.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

/**
 * Floods: a person filing request after request, or clicking a button they may not use over and
 * over. Pending requests are capped per person, a duplicate is answered with the pending one, and
 * refused actions are audited once (then at 10, 100, …) and counted.
 */
const LIMIT = 3;
const SECRET = "webhook-secret-0123456789";
const extraResource = (id: string, lines = "") => `
  - id: ${id}
    name: Extra ${id}
    provider: webhook
    settings: { url: "URL", secret: "${SECRET}" }
    maxDuration: 1h
    approvers: { users: [U0LEAD1] }${lines}`;

let h: Harness;
let receiver: WebhookReceiver;
let replica: RunningJit;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  const extras = ["extra-a", "extra-b", "extra-c", "extra-d"].map((id) => extraResource(id)).join("");
  const restricted = extraResource("restricted", "\n    requesters: { users: [U0ALICE] }");
  const policy = `maxPendingPerUser: ${LIMIT}\n${policyWith({ url: receiver.url, secret: SECRET, extra: extras + restricted })}`;
  h = await startHarness({ label: "floods", policy: policy.replaceAll('"URL"', `"${receiver.url}"`) });
  replica = await h.replica("all");
});
afterAll(async () => {
  await h?.stop();
  await receiver?.close();
});

/** `/jit <text>` sent to one of the two replicas; returns the ephemeral reply. */
async function commandOn(appUrl: string, userId: string, text: string): Promise<string> {
  const responseUrl = h.standin.responseUrl();
  const sent = await sendSigned(appUrl, slashCommandBody({ text, userId, responseUrl }), {
    secret: SIGNING_SECRET,
  });
  expect(sent.status).toBe(200);
  return h.reply(responseUrl);
}

const replicaUrl = () => `http://127.0.0.1:${replica.port}`;
const auditCount = (where: Record<string, unknown>) => h.db.auditEvent.count({ where });

describe("a duplicate pending request", () => {
  it("is answered with the pending request's id and posts no new cards", async () => {
    const id = await fileRequest(h, "U0DUP", "deploy-hook 30m first ask");
    await waitFor(() => cardsOf(h.standin, id).length === 3);
    const posts = h.standin.callsTo("chat.postMessage").length;

    const again = await h.reply(
      (await h.command("U0DUP", "request deploy-hook 1h asking again")).responseUrl,
    );
    expect(again).toContain(`You already have a pending request for deploy-hook: ${id}`);
    expect(await h.db.accessRequest.count({ where: { requesterId: "U0DUP" } })).toBe(1);
    expect(await auditCount({ actor: "U0DUP", action: "request.created" })).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(h.standin.callsTo("chat.postMessage").length).toBe(posts);

    // Another resource is a new request; once the first is decided, the same resource is too.
    const other = await fileRequest(h, "U0DUP", "two-keys 10m something else");
    expect(other).not.toBe(id);
    await h.command("U0DUP", `cancel ${id}`);
    await waitFor(
      async () => (await h.db.accessRequest.findUnique({ where: { id } }))?.status === "CANCELLED",
    );
    expect(await fileRequest(h, "U0DUP", "deploy-hook 30m third ask")).not.toBe(id);
  });

  it("filed 10 times at once on two replicas makes one request, and every reply names it", async () => {
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        commandOn(i % 2 ? replicaUrl() : h.url, "U0RACE", `request deploy-hook 30m race ${i}`),
      ),
    );
    const requests = await h.db.accessRequest.findMany({ where: { requesterId: "U0RACE" } });
    expect(requests).toHaveLength(1);
    const id = requests[0]?.id as string;
    for (const reply of replies) expect(reply).toContain(id);
    expect(replies.filter((r) => r.includes(`Requested deploy-hook for 30m as ${id}`))).toHaveLength(1);
    await waitFor(() => cardsOf(h.standin, id).length === 3);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(cardsOf(h.standin, id)).toHaveLength(3);
  });
});

describe("maxPendingPerUser", () => {
  it("refuses a request beyond the limit with a reply, creating nothing", async () => {
    const filed: string[] = [];
    for (const resource of ["extra-a", "extra-b", "extra-c"]) {
      filed.push(await fileRequest(h, "U0BUSY", `${resource} 10m batch job`));
    }
    await waitFor(() => filed.every((id) => cardsOf(h.standin, id).length === 2)); // LEAD1 and the channel
    const posts = h.standin.callsTo("chat.postMessage").length;
    const refused = await h.reply((await h.command("U0BUSY", "request extra-d 10m one more")).responseUrl);
    expect(refused).toContain(`You already have ${LIMIT} pending requests (${filed.join(", ")})`);
    expect(refused).toContain("cancel one with `/jit cancel &lt;id&gt;`");
    expect(await h.db.accessRequest.count({ where: { requesterId: "U0BUSY" } })).toBe(LIMIT);
    expect(await auditCount({ actor: "U0BUSY", action: "request.rejected" })).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(h.standin.callsTo("chat.postMessage").length).toBe(posts);

    // Cancelling one makes room again.
    await h.command("U0BUSY", `cancel ${filed[0]}`);
    await waitFor(
      async () =>
        (await h.db.accessRequest.count({ where: { requesterId: "U0BUSY", status: "PENDING" } })) ===
        LIMIT - 1,
    );
    await fileRequest(h, "U0BUSY", "extra-d 10m room again");
  });

  it("holds under concurrency: six requests for six resources at once on two replicas file the limit", async () => {
    const resources = ["deploy-hook", "two-keys", "extra-a", "extra-b", "extra-c", "extra-d"];
    const replies = await Promise.all(
      resources.map((r, i) => commandOn(i % 2 ? replicaUrl() : h.url, "U0FLOOD", `request ${r} 10m flood`)),
    );
    expect(await h.db.accessRequest.count({ where: { requesterId: "U0FLOOD" } })).toBe(LIMIT);
    expect(replies.filter((r) => r.startsWith("Requested"))).toHaveLength(LIMIT);
    expect(replies.filter((r) => r.includes("pending requests"))).toHaveLength(resources.length - LIMIT);
  });
});

describe("repeated refused actions", () => {
  it("50 Approve clicks by a non-approver write 2 audit events (1st, 10th) and count 50", async () => {
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 10m click storm");
    const before = await h.db.auditEvent.count();
    for (let batch = 0; batch < 5; batch++) {
      const replies = await Promise.all(
        Array.from({ length: 10 }, () => h.click("U0MALLORY", "jit_approve", id)),
      );
      for (const reply of replies) expect(reply).toContain("you are not an approver for deploy-hook");
    }
    const rejected = await h.db.auditEvent.findMany({
      where: { requestId: id, action: "decision.rejected" },
      orderBy: { seq: "asc" },
    });
    expect(rejected).toHaveLength(2);
    expect(rejected.map((e) => (e.details as { repeats?: number }).repeats)).toEqual([undefined, 10]);
    expect(await h.db.auditEvent.count()).toBe(before + 2);
    const counter = await h.db.refusalCount.findFirstOrThrow({ where: { subject: id, actor: "U0MALLORY" } });
    expect(counter.count).toBe(50);

    const status = await h.reply((await h.command("U0ALICE", `status ${id}`)).responseUrl);
    expect(status).toContain(
      "• <@U0MALLORY>: decision refused 50 times (you are not an approver for deploy-hook)",
    );
    expect(await verifyAudit(h.db)).toMatchObject({ ok: true });
    await h.command("U0ALICE", `cancel ${id}`);
  });

  it("cancels and revokes by someone else are audited and counted; the answer reveals nothing", async () => {
    const id = await fileRequest(h, "U0ALICE", "extra-a 10m not yours");
    for (let i = 0; i < 12; i++) {
      expect(await h.reply((await h.command("U0EVE", `cancel ${id}`)).responseUrl)).toContain(
        `You have no request ${id}.`,
      );
    }
    expect(await h.reply((await h.command("U0EVE", `revoke ${id}`)).responseUrl)).toContain(
      `You have no grant ${id}`,
    );
    // An id that does not exist is a typo, not a refusal: nothing is recorded.
    await h.reply((await h.command("U0EVE", "cancel R-ZZZZ")).responseUrl);

    const events = await h.db.auditEvent.findMany({ where: { actor: "U0EVE" }, orderBy: { seq: "asc" } });
    expect(events.map((e) => [e.action, e.requestId])).toEqual([
      ["cancel.rejected", id],
      ["cancel.rejected", id],
      ["revoke.rejected", id],
    ]);
    expect(events[0]?.details).toMatchObject({ reason: "only the requester may cancel a request" });
    const counts = await h.db.refusalCount.findMany({
      where: { actor: "U0EVE" },
      orderBy: { action: "asc" },
    });
    expect(counts.map((c) => [c.action, c.count])).toEqual([
      ["cancel.rejected", 12],
      ["revoke.rejected", 1],
    ]);
    expect((await h.db.accessRequest.findUniqueOrThrow({ where: { id } })).status).toBe("PENDING");
    await h.command("U0ALICE", `cancel ${id}`);
  });

  it("a request for a resource the person may not request is audited, by command and by form", async () => {
    const reply = await h.reply((await h.command("U0EVE", "request restricted 10m let me in")).responseUrl);
    expect(reply).toContain("You may not request restricted");
    const form = await submitView(h.url, SIGNING_SECRET, {
      userId: "U0EVE",
      callbackId: "jit_request_modal",
      values: {
        resource: { resource_input: { selected_option: "restricted" } },
        duration: { duration_input: "10m" },
        reason: { reason_input: "crafted form" },
      },
    });
    expect(form.json).toMatchObject({ response_action: "errors" });
    expect(await h.db.accessRequest.count({ where: { requesterId: "U0EVE" } })).toBe(0);
    expect(await auditCount({ actor: "U0EVE", action: "request.rejected", resourceId: "restricted" })).toBe(
      1,
    );
    const counter = await h.db.refusalCount.findFirstOrThrow({
      where: { actor: "U0EVE", action: "request.rejected" },
    });
    expect(counter).toMatchObject({ subject: "restricted", count: 2 });
  });
});

describe("user text in cards", () => {
  it("is posted verbatim, without bidi controls", async () => {
    const id = await fileRequest(
      h,
      "U0TEXT",
      "deploy-hook 10m see https://evil.example \u202Eevil\u202C @here",
    );
    await waitFor(() => cardsOf(h.standin, id).length === 3);
    const [card] = cardsOf(h.standin, id);
    const reason = ((card?.blocks ?? []) as { text?: { text: string; verbatim?: boolean } }[]).find((b) =>
      b.text?.text.startsWith("*Reason:*"),
    );
    expect(reason?.text).toEqual({
      type: "mrkdwn",
      text: "*Reason:* see https://evil.example evil @here",
      verbatim: true,
    });
    // Stored as typed: the audit keeps what the person wrote.
    expect((await h.db.accessRequest.findUniqueOrThrow({ where: { id } })).reason).toContain("\u202E");
  });
});
