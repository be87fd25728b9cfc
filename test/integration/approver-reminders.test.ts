import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";
import { cardsOf, fileRequest, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { waitFor } from "../support/wait.js";

let h: Harness;

beforeAll(async () => {
  const policy = policyWith({
    url: "http://127.0.0.1:9/hook",
    requestTimeout: "7s",
    extra: `
  - id: nagged
    name: Nagged
    provider: webhook
    settings: { url: "http://127.0.0.1:9/hook", secret: "webhook-secret-0123456789" }
    maxDuration: 1h
    approvers: { users: [U0LEAD1, U0LEAD2] }
    requiredApprovals: 2
    remindApprovers: 1s`,
  });
  h = await startHarness({ label: "nag", policy });
  await h.replica("all");
});
afterAll(async () => {
  await h?.stop();
});

/** Bot replies threaded under a card copy. */
const threadReplies = (channel: string, ts: string) =>
  h.standin.messagesTo(channel).filter((m) => m.thread_ts === ts && m.ts !== ts);

describe("remindApprovers", () => {
  it("reminds only those who have not voted, in their card's thread, after 1s then 2s more, until the timeout", async () => {
    const id = await fileRequest(h, "U0ALICE", "nagged 10m please look");
    await waitFor(() => cardsOf(h.standin, id).length === 3);
    await h.click("U0LEAD1", "jit_approve", id);
    const copies = await h.db.cardMessage.findMany({ where: { requestId: id } });
    const copyOf = (recipient: string) => copies.find((c) => c.recipientId === recipient);
    const lead2 = copyOf("U0LEAD2");
    if (!lead2) throw new Error("no card for U0LEAD2");

    // 1 s and 3 s after filing; the next (7 s) would be at the timeout, so there is none.
    await waitFor(() => threadReplies(lead2.channel, lead2.ts).length === 2, { timeout: 6_000 });
    const [first] = threadReplies(lead2.channel, lead2.ts);
    expect(first?.text).toContain(`<@U0ALICE>'s request ${id} for nagged is still waiting for your decision`);
    await waitForStatus(h, id, "TIMED_OUT", 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(threadReplies(lead2.channel, lead2.ts)).toHaveLength(2);
    // Who voted, and the approvals channel, get none; nothing lands outside a thread (two replicas ran).
    for (const recipient of ["U0LEAD1", "C0APPROVALS"]) {
      const copy = copyOf(recipient);
      expect(threadReplies(copy?.channel ?? "", copy?.ts ?? "")).toHaveLength(0);
    }
    const loose = h.standin
      .messagesTo(lead2.channel)
      .filter((m) => m.text.includes("Reminder") && !m.thread_ts);
    expect(loose).toHaveLength(0);
  });

  it("takes back a reminder that Slack posted un-threaded because its card copy was deleted", async () => {
    const id = await fileRequest(h, "U0BOB", "nagged 10m copy deleted");
    await waitFor(() => cardsOf(h.standin, id).length === 3);
    const copy = await h.db.cardMessage.findFirst({ where: { requestId: id, recipientId: "U0LEAD2" } });
    if (!copy) throw new Error("no card for U0LEAD2");
    const deleted = await fetch(`${h.standin.url}chat.delete`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer xoxb-test-token" },
      body: JSON.stringify({ channel: copy.channel, ts: copy.ts }),
    });
    expect(((await deleted.json()) as { ok: boolean }).ok).toBe(true);
    // The first reminder is due 1 s after filing: Slack accepts it un-threaded, jit deletes it.
    await waitFor(() => h.standin.callsTo("chat.postMessage").some((c) => c.args.thread_ts === copy.ts));
    await waitFor(() => h.standin.messagesTo(copy.channel).every((m) => !m.text.includes(`request ${id}`)));
  });

  it("is off by default", async () => {
    const id = await fileRequest(h, "U0ALICE", "two-keys 10m no nagging");
    await waitFor(() => cardsOf(h.standin, id).length === 3);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const copies = await h.db.cardMessage.findMany({ where: { requestId: id } });
    for (const copy of copies) expect(threadReplies(copy.channel, copy.ts)).toHaveLength(0);
  });
});
