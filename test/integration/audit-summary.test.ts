/**
 * `/jit audit` end to end: a scripted sequence of requests through Slack, then the summary posted
 * to the audit channel must count exactly what was done; its chart arrives as a PNG through the
 * external upload; its checkpoint is recorded and `jit audit verify` checks it; non-admins are
 * refused and nothing is posted.
 */
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { type Harness, startHarness } from "../support/harness.js";
import { fileRequest, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

const SECRET = "webhook-secret-0123456789";
let h: Harness;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  h = await startHarness({
    label: "audit_summary",
    policy: policyWith({
      url: receiver.url,
      secret: SECRET,
      requestTimeout: "8s",
      extra: `
  - id: broken-hook
    name: A hook nobody answers
    provider: webhook
    settings: { url: "http://127.0.0.1:9/jit", secret: "${SECRET}", timeout: 1s }
    maxDuration: 1h
    approvers: { users: [U0LEAD1] }`,
    }),
  });
}, 60_000);
afterAll(async () => {
  await h?.stop();
  await receiver?.close();
});

/** The figures of a posted summary, label → value, read from its Block Kit fields. */
function figuresOf(blocks: unknown[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const block of blocks as { type: string; fields?: { text: string }[] }[]) {
    for (const field of block.fields ?? []) {
      const [label, value] = field.text.split("\n");
      out[(label ?? "").replace(/\*/g, "")] = value ?? "";
    }
  }
  return out;
}

const summariesIn = (channel: string) =>
  h.standin.messagesTo(channel).filter((m) => JSON.stringify(m.blocks ?? []).includes('"type":"header"'));

async function command(userId: string, text: string): Promise<string> {
  const sent = await h.command(userId, text);
  expect(sent.status).toBe(200);
  return h.reply(sent.responseUrl);
}

describe("/jit audit", () => {
  it("refuses a non-admin, ephemerally, and posts nothing", async () => {
    const reply = await command("U0DEV1", "audit 7d");
    expect(reply).toContain("Only jit admins can post audit summaries");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(summariesIn("C0AUDIT")).toHaveLength(0);
    expect(await h.db.auditSummary.count()).toBe(0);
  });

  it("counts exactly what a scripted sequence of requests did, with its chart and checkpoint", async () => {
    // Timed out: filed first, nobody decides within requestTimeout (8s).
    const timedOut = await fileRequest(h, "U0DEV2", "two-keys 10m let it lapse");
    // Two refused clicks on it (neither is an approver).
    await h.click("U0DEV3", "jit_approve", timedOut);
    await h.click("U0DEV2", "jit_approve", timedOut);
    // Granted, then revoked early by its grantee.
    const revoked = await fileRequest(h, "U0DEV1", "deploy-hook 1h deploy");
    await h.click("U0LEAD1", "jit_approve", revoked);
    await waitForStatus(h, revoked, "ACTIVE");
    expect(await command("U0DEV1", `revoke ${revoked} done`)).toContain(revoked);
    await waitForStatus(h, revoked, "REVOKED");
    // Granted and still active.
    const active = await fileRequest(h, "U0DEV2", "deploy-hook 1h hotfix");
    await h.click("U0LEAD2", "jit_approve", active);
    await waitForStatus(h, active, "ACTIVE");
    // Denied.
    const denied = await fileRequest(h, "U0DEV1", "two-keys 10m peek");
    await h.click("U0LEAD1", "jit_deny", denied);
    await waitForStatus(h, denied, "DENIED");
    // Cancelled by its requester.
    const cancelled = await fileRequest(h, "U0DEV3", "two-keys 10m oops");
    await command("U0DEV3", `cancel ${cancelled}`);
    await waitForStatus(h, cancelled, "CANCELLED");
    // Failed: the provider never answers.
    const failed = await fileRequest(h, "U0DEV1", "broken-hook 10m try");
    await h.click("U0LEAD1", "jit_approve", failed);
    await waitForStatus(h, failed, "FAILED", 30_000);
    await waitForStatus(h, timedOut, "TIMED_OUT", 20_000);

    const reply = await command("U0ADMIN", "audit 24h");
    expect(reply).toBe("Posted the audit summary for the last 24h to <#C0AUDIT>.");
    const [summary] = summariesIn("C0AUDIT");
    expect(summary).toBeDefined();
    const blocks = summary?.blocks ?? [];
    expect(figuresOf(blocks)).toMatchObject({
      "Requests filed": "6",
      Granted: "2",
      Denied: "1",
      "Timed out": "1",
      Cancelled: "1",
      Failed: "1",
      "Break-glass": "0",
      "Grants active now": "1",
      "Refused actions": "2",
      // The failed grant's clean-up revocation cannot reach its hook either, and is still retried.
      Revocations: "1 done, 0 late (over 60s after expiry), 1 still failing",
    });
    expect(figuresOf(blocks)["Median time to decision"]).toMatch(/^\d+s$/);
    const text = JSON.stringify(blocks);
    // The resources table (filed, granted, denied, other) and the busiest requesters.
    expect(text).toMatch(/two-keys +3 +0 +1 +2/);
    expect(text).toMatch(/deploy-hook +2 +2 +0 +0/);
    expect(text).toMatch(/broken-hook +1 +0 +0 +1/);
    expect(text).toContain("<@U0DEV1> (3), <@U0DEV2> (2), <@U0DEV3> (1)");
    expect(text).toContain(`failed grants: \`${failed}\``);
    expect(text).toContain(`revocations still failing: \`${failed}\``);

    // The checkpoint shown is the chain head when it was composed, and it is recorded.
    const recorded = await h.db.auditSummary.findFirstOrThrow({ where: { kind: "manual" } });
    const checkpoint = `${recorded.checkpointSeq}:${recorded.checkpointHash}`;
    expect(recorded).toMatchObject({ channel: "C0AUDIT", ts: summary?.ts, requestedBy: "U0ADMIN" });
    expect(text).toContain(`jit audit verify --checkpoint ${checkpoint}`);
    expect(recorded.checkpointHash).toMatch(/^[0-9a-f]{64}$/);

    // The chart: a real PNG of sensible size, shared into the audit channel.
    const file = await waitFor(() => h.standin.files.find((f) => f.completed), { timeout: 20_000 });
    expect(file.channels).toEqual(["C0AUDIT"]);
    const png = file.bytes ?? Buffer.alloc(0);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.length).toBeGreaterThan(5_000);
    expect(png.length).toBeLessThan(1_000_000);
    const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    expect(width).toBeGreaterThanOrEqual(800);
    expect(width).toBeLessThanOrEqual(3000);
    expect(height).toBeGreaterThanOrEqual(300);
    expect(height).toBeLessThanOrEqual(1500);
    // JIT_SAVE_CHART=<dir> keeps this run's chart and terminal summary (the README's come from here).
    const saveTo = process.env.JIT_SAVE_CHART;
    if (saveTo) writeFileSync(`${saveTo}/audit-summary-chart.png`, png);

    // The terminal shows the same numbers.
    const cli = await runCli(["audit", "summary", "--since", "24h"], { DATABASE_URL: h.databaseUrl });
    expect(cli.code).toBe(0);
    if (saveTo) writeFileSync(`${saveTo}/audit-summary.txt`, cli.stdout);
    expect(cli.stdout).toMatch(/Requests filed +6\n/);
    expect(cli.stdout).toMatch(/Timed out +1\n/);
    expect(cli.stdout).toMatch(/Refused actions +2\n/);
  }, 120_000);

  it("posts the text summary even when the chart upload fails", async () => {
    h.standin.failNext("files.completeUploadExternal", { error: "not_in_channel" });
    const before = summariesIn("C0AUDIT").length;
    const uploads = h.standin.callsTo("files.completeUploadExternal").length;
    expect(await command("U0ADMIN", "audit 7d")).toContain("<#C0AUDIT>");
    expect(summariesIn("C0AUDIT")).toHaveLength(before + 1);
    await waitFor(() => h.standin.callsTo("files.completeUploadExternal").length > uploads, {
      timeout: 20_000,
    });
    expect(h.standin.callsTo("files.completeUploadExternal").at(-1)?.ok).toBe(false);
  }, 60_000);
});

describe("jit audit verify and posted checkpoints", () => {
  it("checks every posted checkpoint: the chain verifies, and fails once rewound below one", async () => {
    const env = { DATABASE_URL: h.databaseUrl, JIT_AUDIT_KEY: "" };
    const highest = await h.db.auditSummary.findFirstOrThrow({ orderBy: { checkpointSeq: "desc" } });
    const checkpoint = `${highest.checkpointSeq}:${highest.checkpointHash}`;
    const ok = await runCli(["audit", "verify"], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`highest checkpoint known: ${checkpoint}, posted to C0AUDIT at `);

    // A recorded checkpoint that no longer matches the chain (a changed checkpoint) fails verify.
    await h.db.auditSummary.update({
      where: { key: highest.key },
      data: { checkpointHash: "f".repeat(64) },
    });
    const changed = await runCli(["audit", "verify"], env);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain(
      `audit chain BROKEN at event ${highest.checkpointSeq}: its hash is not the checkpoint jit posted to C0AUDIT`,
    );
    await h.db.auditSummary.update({
      where: { key: highest.key },
      data: { checkpointHash: highest.checkpointHash },
    });

    // Someone with the database drops the newest events and rewinds the head consistently: the
    // chain alone still links up, but the posted checkpoint names an event that is gone.
    await h.app.stop();
    const keep = highest.checkpointSeq - 2n;
    const last = await h.db.auditEvent.findUniqueOrThrow({ where: { seq: keep } });
    await h.db.$executeRaw`DELETE FROM "AuditEvent" WHERE seq > ${keep}`;
    await h.db.auditHead.update({ where: { id: 1 }, data: { seq: keep, hash: last.hash } });
    const rewound = await runCli(["audit", "verify"], env);
    expect(rewound.code).toBe(1);
    expect(rewound.stderr).toContain(
      `the chain ends at event ${keep} but the checkpoint jit posted to C0AUDIT`,
    );
  }, 60_000);
});
