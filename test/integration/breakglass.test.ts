import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAudit } from "../../src/store/audit.js";
import { type Harness, SIGNING_SECRET, startHarness } from "../support/harness.js";
import { cardsOf, dmsTo, hasButtons, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { clickButton } from "../support/slack-requests.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

const SECRET = "webhook-secret-0123456789";
let h: Harness;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  const policy = policyWith({
    url: receiver.url,
    secret: SECRET,
    extra: `
  - id: prod-hook
    name: Production hook
    provider: webhook
    settings: { url: "${receiver.url}", secret: "${SECRET}", timeout: 1s }
    maxDuration: 1h
    breakglass: true
    approvers: { users: [U0LEAD1, U0LEAD2, U0ALICE] }`,
  }).replace("minDuration: 1s", "minDuration: 1s\nbreakglassReview: 3s");
  h = await startHarness({ label: "breakglass", policy });
});
afterAll(async () => {
  await h?.stop();
  await receiver?.close();
});

let responses = 0;
async function command(userId: string, text: string): Promise<string> {
  return h.reply((await h.command(userId, text)).responseUrl);
}
async function review(userId: string, action: "jit_breakglass_ack" | "jit_breakglass_flag", id: string) {
  const responseUrl = h.standin.responseUrl(`review-${++responses}`);
  await clickButton(h.url, SIGNING_SECRET, {
    userId,
    actionId: action,
    value: id,
    blockId: `review:${id}`,
    responseUrl,
  });
  return h.reply(responseUrl);
}
const alertsIn = (channel: string, id: string) =>
  h.standin.messagesTo(channel).filter((m) => m.text.includes("Break-glass") && m.text.includes(id));

async function breakglass(text: string): Promise<string> {
  const reply = await command("U0ALICE", `breakglass prod-hook ${text}`);
  const id = /R-[0-9A-Z]{4,}/.exec(reply)?.[0];
  if (!id) throw new Error(`no id in: ${reply}`);
  return id;
}

describe("/jit breakglass", () => {
  it("is described by /jit help", async () => {
    const help = ((await h.command("U0ALICE", "help")).json as { text: string }).text;
    expect(help).toContain("/jit breakglass &lt;resource&gt; &lt;duration&gt; &lt;reason…&gt;");
    expect(help).toContain("reviewed by its approvers");
  });

  it("grants at once, alerts both channels naming who, what, why and the reviewers, and sends review cards", async () => {
    const id = await breakglass("30m incident <!here> INC-42");
    const active = await waitForStatus(h, id, "ACTIVE");
    expect(active.breakglass).toBe(true);
    expect(await h.db.decision.count({ where: { requestId: id } })).toBe(0);
    expect(receiver.events.filter((e) => e.body.requestId === id && e.event === "grant")).toHaveLength(1);
    await waitFor(() =>
      dmsTo(h, "U0ALICE").some((m) => m.text.includes(`(${id})`) && m.text.includes("granted")),
    );

    for (const channel of ["C0AUDIT", "C0APPROVALS"]) {
      const [alert] = await waitFor(() => {
        const found = alertsIn(channel, id);
        return found.length ? found : undefined;
      });
      expect(alert?.text).toContain("<@U0ALICE>");
      expect(alert?.text).toContain("*Production hook* (`prod-hook`)");
      expect(alert?.text).toContain("incident &lt;!here&gt; INC-42");
      expect(alert?.text).toContain("*Reviewers:* <@U0LEAD1>, <@U0LEAD2>");
    }
    // Review cards to the approvers other than the requester, by DM only.
    await waitFor(() => cardsOf(h.standin, id).length === 2);
    expect(
      cardsOf(h.standin, id)
        .map((c) => c.channel)
        .sort(),
    ).toEqual(["D0LEAD1", "D0LEAD2"]);
    expect(JSON.stringify(cardsOf(h.standin, id)[0]?.blocks)).toContain("jit_breakglass_flag");

    // The requester cannot review it; the first approver's review settles it; the card updates.
    expect(await review("U0ALICE", "jit_breakglass_ack", id)).toContain("cannot review your own");
    expect(await review("U0LEAD1", "jit_breakglass_ack", id)).toContain(`You acknowledged break-glass ${id}`);
    expect(await review("U0LEAD2", "jit_breakglass_flag", id)).toContain("already reviewed (acknowledged)");
    await waitFor(() =>
      cardsOf(h.standin, id).every(
        (c) => !hasButtons(c) && JSON.stringify(c.blocks).includes("Acknowledged by <@U0LEAD1>"),
      ),
    );
    expect((await h.db.accessRequest.findUnique({ where: { id } }))?.status).toBe("ACTIVE");
    // Reviewed: the alert is not repeated after breakglassReview.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(alertsIn("C0AUDIT", id)).toHaveLength(1);

    const actions = (
      await h.db.auditEvent.findMany({ where: { requestId: id }, orderBy: { seq: "asc" } })
    ).map((e) => e.action);
    expect(actions).toEqual([
      "request.created",
      "breakglass.used",
      "request.approved",
      "request.active",
      "breakglass.review-rejected",
      "breakglass.acknowledged",
    ]);
    expect(await verifyAudit(h.db)).toMatchObject({ ok: true });
  });

  it("Flag ends the grant now and alerts the audit channel again", async () => {
    const id = await breakglass("30m looking around");
    await waitForStatus(h, id, "ACTIVE");
    await waitFor(() => cardsOf(h.standin, id).length === 2);
    expect(await review("U0LEAD2", "jit_breakglass_flag", id)).toContain("its access is being ended now");
    const revoked = await waitForStatus(h, id, "REVOKED");
    expect(revoked.grant?.revokeRequestedBy).toBe("U0LEAD2");
    expect(receiver.events.filter((e) => e.body.requestId === id && e.event === "revoke")).toHaveLength(1);
    await waitFor(() =>
      alertsIn("C0AUDIT", id).some((m) => m.text.includes("was flagged") && m.text.includes("<@U0LEAD2>")),
    );
    await waitFor(() =>
      dmsTo(h, "U0ALICE").some((m) => m.text.includes(`(${id}) was revoked by <@U0LEAD2>`)),
    );
  });

  it("repeats the alert while nobody has reviewed it", async () => {
    const id = await breakglass("20m nobody looks");
    await waitFor(() => alertsIn("C0AUDIT", id).length === 1);
    const repeated = await waitFor(
      () => alertsIn("C0AUDIT", id).find((m) => m.text.includes("still not reviewed")),
      {
        timeout: 8_000,
      },
    );
    expect(repeated.text).toContain("*Reviewers:* <@U0LEAD1>, <@U0LEAD2>");
    await waitFor(() => alertsIn("C0APPROVALS", id).some((m) => m.text.includes("still not reviewed")));
  });

  it("is refused, audited, and grants nothing where the resource does not allow it or the duration is too long", async () => {
    const before = await h.db.accessRequest.count();
    expect(await command("U0ALICE", "breakglass deploy-hook 30m please")).toContain(
      "deploy-hook does not allow break-glass access",
    );
    expect(await command("U0ALICE", "breakglass prod-hook 2h please")).toContain(
      "longer than the 1h maximum",
    );
    expect(await h.db.accessRequest.count()).toBe(before);
    const refusals = await h.db.refusalCount.findMany({ where: { action: "breakglass.rejected" } });
    expect(refusals.map((r) => `${r.subject}: ${r.reason}`).sort()).toEqual([
      "deploy-hook: the resource does not allow break-glass",
      "prod-hook: duration out of bounds",
    ]);
    expect(await h.db.auditEvent.count({ where: { action: "breakglass.rejected" } })).toBe(2);
  });
});
