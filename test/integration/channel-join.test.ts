/**
 * The bot must be in the approvals and audit channels to post there. At start the web role joins
 * them; a channel it cannot join (private) gets a warning asking to invite it, and jit runs on.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";
import { captureLog } from "../support/log-capture.js";
import { policyWith } from "../support/policies.js";
import { type SlackStandin, startSlackStandin } from "../support/slack-standin.js";

const harnesses: Harness[] = [];
afterEach(async () => {
  await Promise.allSettled(harnesses.splice(0).map((h) => h.stop()));
});

async function start(policy: string, standin?: SlackStandin) {
  const log = captureLog();
  const h = await startHarness({
    label: "join",
    policy,
    env: { LOG_LEVEL: "info" },
    logDestination: log.stream,
    standin,
  });
  harnesses.push(h);
  return { h, log };
}

const joined = (h: Harness) => h.standin.callsTo("conversations.join").map((c) => c.args.channel);
const warnings = (log: ReturnType<typeof captureLog>) =>
  log
    .entries()
    // Warnings about channels: not the start-up check of the (unset) audit key.
    .filter((l) => l.level === 40 && l.check !== "audit-key")
    .map((l) => String(l.msg));

describe("joining the approvals and audit channels at start", () => {
  it("joins both public channels once per web process; a worker joins nothing", async () => {
    const { h, log } = await start(policyWith({ url: "http://127.0.0.1:9/hook" }));
    expect(joined(h)).toEqual(["C0APPROVALS", "C0AUDIT"]);
    expect(h.standin.callsTo("conversations.join").every((c) => c.ok)).toBe(true);
    expect(warnings(log)).toEqual([]);

    await h.replica("worker");
    expect(joined(h)).toHaveLength(2);
  });

  it("warns to invite the bot to a private channel, and starts and serves all the same", async () => {
    const policy = policyWith({ url: "http://127.0.0.1:9/hook" }).replace(
      "audit: { channel: C0AUDIT }",
      "audit: { channel: G0PRIVATE }",
    );
    const { h, log } = await start(policy);
    expect(joined(h)).toEqual(["C0APPROVALS", "G0PRIVATE"]);
    expect(warnings(log)).toEqual([
      "invite @jit to G0PRIVATE (audit.channel): it is private, so jit cannot join it itself; until then its cards and alerts there fail",
    ]);
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
  });

  it("warns for a channel Slack says it cannot find, and joins the other one", async () => {
    const standin = await startSlackStandin();
    try {
      standin.failNext("conversations.join", { error: "channel_not_found" });
      const { log } = await start(policyWith({ url: "http://127.0.0.1:9/hook" }), standin);
      expect(warnings(log)).toEqual([
        "invite @jit to C0APPROVALS (approvalsChannel): jit cannot see it (a private channel, or a wrong id); until then its cards and alerts there fail",
      ]);
      expect(log.entries().find((l) => l.msg === "joined channel")).toMatchObject({ channel: "C0AUDIT" });
    } finally {
      await Promise.allSettled(harnesses.splice(0).map((h) => h.stop()));
      await standin.close();
    }
  });
});
