/**
 * Fault test 5: the Slack Web API answers 429 (with Retry-After) and 5xx to chat.postMessage and
 * chat.update. Card posts and updates are retried: no update is lost (every copy ends in the final
 * state, without buttons) and nothing is duplicated (each approver has exactly one copy). The
 * requester's DMs survive the same errors.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.js";
import { hasButtons, type Rig, startRig } from "./rig.js";

let rig: Rig;

beforeAll(async () => {
  rig = await startRig({ label: "slack" });
  await rig.spawn("all");
}, 60_000);
afterAll(async () => {
  await rig?.stop();
});
beforeEach(() => {
  rig.receiver.setMode("ok");
});

const EXPECTED_CHANNELS = ["C0APPROVALS", "D0LEAD1", "D0LEAD2", "D0SRE1"];
const dms = (user: string) => rig.standin.messagesTo(rig.standin.dmChannelFor(user));

/**
 * Where the injected failures landed: they are only a test of the DM or the card updates if they
 * hit them (another post, e.g. to the audit channel, could have taken them all).
 */
function injected(method: "chat.postMessage" | "chat.update", from = 0) {
  const calls = rig.standin
    .callsTo(method)
    .slice(from)
    .filter((c) => c.injected);
  return {
    total: calls.length,
    toDmOf: (user: string) => calls.filter((c) => c.args.channel === rig.standin.dmChannelFor(user)).length,
    onCardsOf: (requestId: string) => {
      const cards = new Set(rig.cardsOf(requestId).map((c) => `${c.channel} ${c.ts}`));
      return calls.filter((c) => cards.has(`${c.args.channel} ${c.args.ts}`)).length;
    },
    onCardPostsOf: (requestId: string) =>
      calls.filter((c) => JSON.stringify(c.args.blocks ?? []).includes(`Request \`${requestId}\``)).length,
  };
}

describe("Slack answering 429 and 5xx", () => {
  it("card posts and updates are neither lost nor duplicated", async () => {
    const { standin } = rig;
    standin.failNext("chat.postMessage", { status: 429, retryAfter: 1 });
    standin.failNext("chat.postMessage", { status: 500 });
    standin.failNext("chat.postMessage", { status: 503, body: "upstream unavailable" });
    standin.failNext("chat.postMessage", { status: 429, retryAfter: 1 });
    standin.failNext("chat.postMessage", { status: 502, body: "bad gateway" });
    const id = await rig.fileRequest("U0ALICE", "deploy-hook 4s slack is flaky");

    await waitFor(() => rig.cardsOf(id).length >= 4, { timeout: 30_000, interval: 100 });
    const failedPosts = standin.callsTo("chat.postMessage").filter((c) => !c.ok);
    expect(failedPosts.length).toBe(5);
    // All five hit this request's card posts.
    expect(injected("chat.postMessage").onCardPostsOf(id)).toBe(5);
    // A little longer, in case a retry would post a copy twice.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(
      rig
        .cardsOf(id)
        .map((c) => c.channel)
        .sort(),
    ).toEqual(EXPECTED_CHANNELS);

    // Every update fails at first, in all the ways Slack fails.
    standin.failNext("chat.update", { status: 429, retryAfter: 1 });
    standin.failNext("chat.update", { status: 500 });
    standin.failNext("chat.update", { status: 429, retryAfter: 1 });
    standin.failNext("chat.update", { status: 503, body: "upstream unavailable" });
    standin.failNext("chat.update", { status: 500 });
    standin.failNext("chat.update", { status: 504, body: "gateway timeout" });
    expect(await rig.click("U0LEAD2", "jit_approve", id)).toContain(`You approved ${id}`);
    await rig.assertInvariants({ [id]: ["EXPIRED"] }, 30_000);

    // Final card state on every copy: expired and revoked, who approved, no buttons.
    await waitFor(
      () =>
        rig
          .cardsOf(id)
          .every(
            (c) => !hasButtons(c) && JSON.stringify(c.blocks).includes("access expired and was revoked"),
          ),
      { timeout: 30_000, interval: 200, message: "a card update was lost" },
    );
    for (const card of rig.cardsOf(id)) expect(JSON.stringify(card.blocks)).toContain("<@U0LEAD2>");
    expect(
      rig
        .cardsOf(id)
        .map((c) => c.channel)
        .sort(),
    ).toEqual(EXPECTED_CHANNELS);
    expect(standin.callsTo("chat.update").filter((c) => !c.ok).length).toBe(6);
    // All six hit updates of this request's cards.
    expect(injected("chat.update").onCardsOf(id)).toBe(6);
    await waitFor(
      () => dms("U0ALICE").some((m) => m.text.includes(`${id}`) && m.text.includes("has expired")),
      {
        timeout: 15_000,
      },
    );
  }, 85_000);

  it("the requester's 'granted' DM survives a 5xx from chat.postMessage", async () => {
    const id = await rig.fileRequest("U0BOB", "deploy-hook 1h granted dm under errors");
    await waitFor(() => rig.cardsOf(id).length === 4, { timeout: 15_000 });
    // The next post after the approval is the granted DM (card updates use chat.update).
    const before = rig.standin.callsTo("chat.postMessage").length;
    rig.standin.failNext("chat.postMessage", { status: 500 });
    await rig.click("U0LEAD1", "jit_approve", id);
    await rig.waitForStatus(id, "ACTIVE");
    const failed = await waitFor(
      () =>
        rig.standin
          .callsTo("chat.postMessage")
          .slice(before)
          .find((c) => !c.ok && c.status === 500),
      { timeout: 10_000 },
    );
    expect(failed.args.channel).toBe(rig.standin.dmChannelFor("U0BOB"));
    expect(String(failed.args.text)).toContain("Access to deploy-hook granted");
    await waitFor(() => dms("U0BOB").some((m) => m.text.includes(`Access to deploy-hook granted`)), {
      timeout: 20_000,
      interval: 200,
      message: "the granted DM was lost",
    });
    expect(dms("U0BOB").filter((m) => m.text.includes("Access to deploy-hook granted"))).toHaveLength(1);
    const revoke = await rig.command("U0BOB", `revoke ${id} done`);
    expect(await rig.reply(revoke.responseUrl)).toContain(`Revoking ${id}`);
    await rig.assertInvariants({ [id]: ["REVOKED"] });
    expect(rig.eventsFor(id, "grant")).toHaveLength(1);
  }, 60_000);

  it("a 'granted' DM that Slack keeps refusing becomes a secret-free notice, not silence", async () => {
    const id = await rig.fileRequest("U0DAVE", "deploy-hook 1h granted dm refused");
    await waitFor(() => rig.cardsOf(id).length === 4, { timeout: 15_000 });
    // More failures than the Web API client's own retries (4): the DM itself is given up.
    const before = rig.standin.callsTo("chat.postMessage").length;
    rig.standin.failNext("chat.postMessage", { status: 500 }, 5);
    await rig.click("U0LEAD1", "jit_approve", id);
    await rig.waitForStatus(id, "ACTIVE");
    await waitFor(
      () =>
        dms("U0DAVE").some((m) =>
          m.text.includes(`(${id}) was granted, but I could not send you its details`),
        ),
      { timeout: 20_000, interval: 200, message: "the requester was never told" },
    );
    // The failures hit the granted DM: all five attempts of it.
    expect(injected("chat.postMessage", before).toDmOf("U0DAVE")).toBe(5);
    const revoke = await rig.command("U0DAVE", `revoke ${id} never got the details`);
    expect(await rig.reply(revoke.responseUrl)).toContain(`Revoking ${id}`);
    await rig.assertInvariants({ [id]: ["REVOKED"] });
  }, 60_000);

  it("the 'revoked' DM and final cards survive 429s and 5xx", async () => {
    const id = await rig.fileRequest("U0CAROL", "deploy-hook 1h revoked dm under errors");
    await waitFor(() => rig.cardsOf(id).length === 4, { timeout: 15_000 });
    await rig.click("U0SRE1", "jit_approve", id);
    await rig.waitForStatus(id, "ACTIVE");
    await waitFor(() => dms("U0CAROL").some((m) => m.text.includes(`(${id})`)), { timeout: 10_000 });
    const posts = rig.standin.callsTo("chat.postMessage").length;
    const updates = rig.standin.callsTo("chat.update").length;
    rig.standin.failNext("chat.postMessage", { status: 429, retryAfter: 1 });
    rig.standin.failNext("chat.postMessage", { status: 500 });
    rig.standin.failNext("chat.postMessage", { status: 500 });
    rig.standin.failNext("chat.update", { status: 500 }, 3);
    const revoke = await rig.command("U0ADMIN", `revoke ${id} rotating`);
    expect(await rig.reply(revoke.responseUrl)).toContain(`Revoking ${id}`);
    await rig.assertInvariants({ [id]: ["REVOKED"] });
    await waitFor(() => dms("U0CAROL").some((m) => m.text.includes("revoked by <@U0ADMIN>: rotating")), {
      timeout: 20_000,
      interval: 200,
      message: "the revoked DM was lost",
    });
    expect(dms("U0CAROL").filter((m) => m.text.includes("revoked by <@U0ADMIN>"))).toHaveLength(1);
    await waitFor(
      () =>
        rig
          .cardsOf(id)
          .every(
            (c) => !hasButtons(c) && JSON.stringify(c.blocks).includes("access revoked early by <@U0ADMIN>"),
          ),
      { timeout: 20_000, interval: 200, message: "a card update was lost" },
    );
    expect(rig.cardsOf(id)).toHaveLength(4);
    // The failures hit what this test is about: the revoked DM and the card updates.
    const hits = {
      dm: injected("chat.postMessage", posts).toDmOf("U0CAROL"),
      cards: injected("chat.update", updates).onCardsOf(id),
    };
    expect(hits.dm, "injected failures on the revoked DM").toBeGreaterThan(0);
    expect(hits.cards, "injected failures on card updates").toBeGreaterThan(0);
  }, 60_000);
});
