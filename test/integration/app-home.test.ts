import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extend, extensionCardsOf } from "../support/extensions.js";
import { type Harness, SIGNING_SECRET, startHarness } from "../support/harness.js";
import { cardsOf, dmsTo, fileRequest, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { blockActionPayload, formBody, sendEvent, sendSigned } from "../support/slack-requests.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

const SECRET = "webhook-secret-0123456789";
let h: Harness;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  h = await startHarness({
    label: "home",
    policy: policyWith({ url: receiver.url, secret: SECRET }),
  });
});
afterAll(async () => {
  await h?.stop();
  await receiver?.close();
});

/** Opens the user's Home tab as Slack reports it; waits for a publish newer than `since` calls. */
async function openHome(userId: string) {
  const before = h.standin.callsTo("views.publish").length;
  const sent = await sendEvent(h.url, SIGNING_SECRET, {
    type: "app_home_opened",
    user: userId,
    channel: "D0HOME",
    tab: "home",
  });
  expect(sent.status).toBe(200);
  await waitFor(() =>
    h.standin
      .callsTo("views.publish")
      .slice(before)
      .some((c) => c.args.user_id === userId),
  );
  return homeText(userId);
}

const homeText = (userId: string) => JSON.stringify(h.standin.homeOf(userId)?.blocks ?? []);

/** A click on a Home button, as Slack sends it: a view container and no response_url. */
async function clickHome(userId: string, actionId: string, value: string, republished = true) {
  const payload = blockActionPayload({ userId, actionId, value, responseUrl: "", isEphemeral: true });
  delete payload.response_url;
  delete payload.channel;
  payload.container = { type: "view", view_id: h.standin.homeOf(userId)?.id ?? "V0" };
  payload.view = h.standin.homeOf(userId);
  const before = h.standin.callsTo("views.publish").length;
  const sent = await sendSigned(h.url, formBody({ payload: JSON.stringify(payload) }), {
    secret: SIGNING_SECRET,
  });
  expect(sent.status).toBe(200);
  // Every Home click that changes something ends with the Home published again.
  if (!republished) return;
  await waitFor(() =>
    h.standin
      .callsTo("views.publish")
      .slice(before)
      .some((c) => c.args.user_id === userId),
  );
}

describe("App Home", () => {
  it("shows grants (Revoke, Extend), pending requests (Cancel), what awaits a decision, and Request access", async () => {
    const granted = await fileRequest(h, "U0ALICE", "deploy-hook 1h ship it");
    await h.click("U0LEAD1", "jit_approve", granted);
    await waitForStatus(h, granted, "ACTIVE");
    const pending = await fileRequest(h, "U0ALICE", "two-keys 30m look at prod");
    await extend(h, "U0ALICE", `${granted} 30m more`);

    const alice = await openHome("U0ALICE");
    expect(alice).toContain(`\`${granted}\``);
    expect(alice).toContain(`"block_id":"grant:${granted}"`);
    expect(alice).toContain('"action_id":"jit_home_revoke"');
    expect(alice).toContain('"action_id":"jit_extend_open"');
    expect(alice).toContain(`"block_id":"pending:${pending}"`);
    expect(alice).toContain('"action_id":"jit_home_cancel"');
    expect(alice).toContain('"action_id":"jit_home_request"');
    expect(alice).toContain("Nothing awaits your decision.");

    const lead = await openHome("U0LEAD1");
    expect(lead).toContain(`"block_id":"decide:${pending}"`);
    expect(lead).toContain(`"block_id":"extension:${granted}.1"`);
    expect(lead).toContain("look at prod");
  });

  it("decides from Home by the cards' rules, updates the cards, answers by DM and refreshes the Home", async () => {
    const id = await fileRequest(h, "U0BOB", "two-keys 30m from home");
    await waitFor(() => cardsOf(h.standin, id).length === 3);
    await openHome("U0LEAD2");
    await clickHome("U0LEAD2", "jit_home_approve", id);
    await waitFor(() =>
      dmsTo(h, "U0LEAD2").some((m) => m.text.includes(`You approved ${id}. It needs more approvals.`)),
    );
    expect(homeText("U0LEAD2")).not.toContain(`decide:${id}`);
    await waitFor(() =>
      cardsOf(h.standin, id).every((c) => JSON.stringify(c.blocks).includes("1 more approval(s) needed")),
    );
    // Someone who may not decide is refused, exactly as on the card.
    await openHome("U0BOB");
    await clickHome("U0BOB", "jit_home_approve", id);
    await waitFor(() =>
      dmsTo(h, "U0BOB").some((m) => m.text.includes("you are not an approver for two-keys")),
    );
    expect(await h.db.decision.count({ where: { requestId: id } })).toBe(1);
    // The extension from the first test, approved and denied from Home like any other decision.
    const [extension] = await h.db.extension.findMany({ where: { status: "PENDING" } });
    await clickHome("U0LEAD2", "jit_home_extension_deny", extension?.id ?? "");
    await waitFor(
      async () => (await h.db.extension.findUnique({ where: { id: extension?.id } }))?.status === "DENIED",
    );
    await waitFor(() =>
      extensionCardsOf(h.standin, extension?.id ?? "").every((c) =>
        JSON.stringify(c.blocks).includes("Denied by"),
      ),
    );
  });

  it("revokes, cancels and opens the request form from Home", async () => {
    const id = await fileRequest(h, "U0CAROL", "deploy-hook 1h carol");
    await h.click("U0LEAD1", "jit_approve", id);
    await waitForStatus(h, id, "ACTIVE");
    const waiting = await fileRequest(h, "U0CAROL", "two-keys 10m carol waits");
    await openHome("U0CAROL");
    await clickHome("U0CAROL", "jit_home_revoke", id);
    await waitForStatus(h, id, "REVOKED");
    await clickHome("U0CAROL", "jit_home_cancel", waiting);
    await waitForStatus(h, waiting, "CANCELLED");
    await waitFor(() => !homeText("U0CAROL").includes(`pending:${waiting}`));
    const opens = h.standin.callsTo("views.open").length;
    await clickHome("U0CAROL", "jit_home_request", "request", false);
    const opened = await waitFor(() => h.standin.callsTo("views.open").slice(opens)[0]);
    expect((opened.args.view as { callback_id: string }).callback_id).toBe("jit_request_modal");
  });

  it("stays within Slack's 100 blocks when much awaits a decision", async () => {
    const requesters = Array.from({ length: 60 }, (_, i) => `U0MANY${String(i).padStart(2, "0")}`);
    for (let i = 0; i < requesters.length; i += 15) {
      await Promise.all(requesters.slice(i, i + 15).map((u) => fileRequest(h, u, "deploy-hook 10m crowd")));
    }
    const home = await openHome("U0LEAD1");
    const blocks = h.standin.homeOf("U0LEAD1")?.blocks as unknown[];
    expect(blocks.length).toBeLessThanOrEqual(100);
    expect(home).toMatch(/… and \d+ more: `\/jit list` shows them all/);
  });
});
