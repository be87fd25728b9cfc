/**
 * `audit.schedule`: with two replicas running workers, each tick posts exactly one summary, the
 * windows follow one another, and a tick missed while everything was down is posted late, once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";
import { waitFor } from "../support/wait.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Every 3 seconds (cron with seconds), in a time zone other than UTC. */
const EVERY_MS = 3_000;
const POLICY = `
admins: [U0ADMIN]
audit: { channel: C0AUDIT, schedule: "*/3 * * * * *", timezone: Europe/Paris }
resources:
  - id: deploy-hook
    name: Deploy hook
    provider: webhook
    settings: { url: "http://127.0.0.1:9/jit", secret: "webhook-secret-0123456789" }
    maxDuration: 1h
    approvers: { users: [U0LEAD1] }
`;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ label: "audit_schedule", policy: POLICY });
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

const scheduledPosts = () =>
  h.standin
    .messagesTo("C0AUDIT")
    .filter((m) => JSON.stringify(m.blocks ?? []).includes("Scheduled audit summary"));

describe("audit.schedule", () => {
  it("posts once per tick with two replicas, and a tick missed while down once, late", async () => {
    const replica = await h.replica("worker");
    await waitFor(() => scheduledPosts().length >= 4, { timeout: 30_000 });
    await sleep(EVERY_MS); // let any duplicate of the last tick arrive
    const rows = await h.db.auditSummary.findMany({
      where: { kind: "scheduled" },
      orderBy: { windowTo: "asc" },
    });
    const ticks = rows.map((r) => r.windowTo.getTime());
    // One post per tick: as many messages as recorded ticks, each tick recorded once (its key).
    expect(scheduledPosts()).toHaveLength(rows.length);
    expect(rows.every((r) => r.ts !== null && r.key === `schedule:${r.windowTo.getTime()}`)).toBe(true);
    // Consecutive ticks, none skipped, each window starting where the previous one ended.
    for (let i = 1; i < rows.length; i++) {
      expect(ticks[i]).toBe((ticks[i - 1] ?? 0) + EVERY_MS);
      expect(rows[i]?.windowFrom.getTime()).toBe(ticks[i - 1]);
    }
    // The first one covers the 24 hours before it.
    expect((ticks[0] ?? 0) - (rows[0]?.windowFrom.getTime() ?? 0)).toBe(86_400_000);

    // Everything down across several ticks, then one worker back.
    await Promise.all([h.app.stop(), replica.stop()]);
    const downAt = Date.now();
    await sleep(3 * EVERY_MS);
    const upAt = Date.now();
    await h.replica("worker");
    const postedLate = async () =>
      (await h.db.auditSummary.findMany({ where: { kind: "scheduled", ts: { not: null } } })).filter(
        (r) => r.windowTo.getTime() > downAt && r.windowTo.getTime() < upAt,
      );
    const missed = await waitFor(async () => ((await postedLate()).length > 0 ? postedLate() : undefined), {
      timeout: 15_000,
    });
    await sleep(EVERY_MS);
    const after = await h.db.auditSummary.findMany({
      where: { kind: "scheduled" },
      orderBy: { windowTo: "asc" },
    });
    const inDowntime = after.filter((r) => r.windowTo.getTime() > downAt && r.windowTo.getTime() < upAt);
    // Several ticks passed while down; exactly one of them is posted (late), none twice.
    expect(missed.length).toBe(1);
    expect(inDowntime).toHaveLength(1);
    expect(inDowntime[0]?.postedAt?.getTime()).toBeGreaterThanOrEqual(upAt);
    expect(new Set(after.map((r) => r.key)).size).toBe(after.length);
    expect(scheduledPosts()).toHaveLength(after.filter((r) => r.ts !== null).length);
  }, 120_000);
});
