import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUE_NAME } from "../../src/jobs/queue.js";
import type { RunningJit } from "../../src/main.js";
import { clickExtension, extensionCardsOf } from "../support/extensions.js";
import { type Harness, REDIS_URL, SIGNING_SECRET, startHarness } from "../support/harness.js";
import { dmsTo, fileRequest, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { clickButton, submitView } from "../support/slack-requests.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

const SECRET = "webhook-secret-0123456789";
let h: Harness;
let replica: RunningJit;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: SECRET });
  const policy = policyWith({ url: receiver.url, secret: SECRET }).replace(
    "minDuration: 1s",
    "minDuration: 1s\nreminders: { beforeExpiry: 2s }",
  );
  h = await startHarness({ label: "remind", policy });
  replica = await h.replica("all");
});
afterAll(async () => {
  await h?.stop();
  await receiver?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const urlOf = (jit: RunningJit) => `http://127.0.0.1:${jit.port}`;

/** The reminder DMs a user got about one request: messages with its Extend button. */
const remindersOf = (userId: string, requestId: string) =>
  dmsTo(h, userId).filter((m) => JSON.stringify(m.blocks ?? []).includes(`"remind:${requestId}"`));

async function activeGrant(duration: string): Promise<{ id: string; expiresAt: Date }> {
  const id = await fileRequest(h, "U0ALICE", `deploy-hook ${duration} deploy`);
  await h.click("U0LEAD1", "jit_approve", id);
  const active = await waitForStatus(h, id, "ACTIVE");
  return { id, expiresAt: active.grant?.expiresAt as Date };
}

describe("reminder before expiry", () => {
  it("DMs once, beforeExpiry ahead, with an Extend button whose form files the extension", async () => {
    const { id, expiresAt } = await activeGrant("6s");
    const first = await waitFor(() => remindersOf("U0ALICE", id)[0], { timeout: 10_000 });
    // Sent about 2 s before the expiry (two replicas running: still one DM).
    const sentAt = Number(first.ts) * 1000;
    expect(expiresAt.getTime() - sentAt).toBeGreaterThan(1_000);
    expect(expiresAt.getTime() - sentAt).toBeLessThanOrEqual(2_500);
    expect(first.text).toContain(`(${id}) ends`);

    // A re-run of the reminder job (a duplicate, a retry after the DM) says nothing more.
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection, prefix: h.prefix });
    const grantId = id.replace("R-", "G-");
    await queue.add("remind", { name: "remind", grantId, n: 0 });

    // The button opens the form, as Slack sends the click.
    const responseUrl = h.standin.responseUrl("remind-click");
    await clickButton(h.url, SIGNING_SECRET, {
      userId: "U0ALICE",
      actionId: "jit_extend_open",
      value: id,
      blockId: `remind:${id}`,
      responseUrl,
      channel: h.standin.dmChannelFor("U0ALICE"),
    });
    const opened = await waitFor(() => h.standin.callsTo("views.open").find((c) => c.ok));
    const view = opened.args.view as { callback_id: string; private_metadata: string };
    expect(view.callback_id).toBe("jit_extend_modal");
    expect(view.private_metadata).toBe(id);

    // A bad duration is answered in the form and files nothing.
    const bad = await submitView(h.url, SIGNING_SECRET, {
      userId: "U0ALICE",
      callbackId: "jit_extend_modal",
      privateMetadata: id,
      values: { duration: { duration_input: "soon" }, reason: { reason_input: "more" } },
    });
    expect(bad.json).toMatchObject({ response_action: "errors", errors: { duration: expect.any(String) } });
    expect(await h.db.extension.count({ where: { requestId: id } })).toBe(0);

    const submitted = await submitView(h.url, SIGNING_SECRET, {
      userId: "U0ALICE",
      callbackId: "jit_extend_modal",
      privateMetadata: id,
      values: { duration: { duration_input: "8s" }, reason: { reason_input: "tests still running" } },
    });
    expect(submitted.status).toBe(200);
    expect(submitted.json).toBeUndefined();
    await waitFor(() => extensionCardsOf(h.standin, `${id}.1`).length > 0);
    await clickExtension(h, "U0LEAD1", "jit_extension_approve", `${id}.1`);
    const extended = await waitFor(async () => {
      const grant = await h.db.grant.findUnique({ where: { id: grantId } });
      return grant?.extensions === 1 ? grant : undefined;
    });

    // The extension schedules the reminder again for the new expiry: one more DM, then no more.
    await waitFor(() => remindersOf("U0ALICE", id).length === 2, { timeout: 15_000 });
    const second = remindersOf("U0ALICE", id)[1];
    expect((extended.expiresAt?.getTime() ?? 0) - Number(second?.ts) * 1000).toBeLessThanOrEqual(2_500);
    await waitForStatus(h, id, "EXPIRED", 15_000);
    await sleep(500);
    expect(remindersOf("U0ALICE", id)).toHaveLength(2);
    await queue.close();
    connection.disconnect();
  });

  it("sends none for a grant shorter than twice beforeExpiry", async () => {
    const { id } = await activeGrant("3s");
    await waitForStatus(h, id, "EXPIRED", 15_000);
    expect(remindersOf("U0ALICE", id)).toHaveLength(0);
  });

  it("survives a restart between scheduling and sending, and still DMs once", async () => {
    const { id } = await activeGrant("7s");
    // Every process that scheduled it goes away; a fresh one comes up.
    await h.app.stop();
    await replica.stop();
    const fresh = await h.replica("all");
    const again = await h.replica("all");
    await waitFor(() => remindersOf("U0ALICE", id).length === 1, { timeout: 10_000 });
    await waitForStatus(h, id, "EXPIRED", 15_000);
    expect(remindersOf("U0ALICE", id)).toHaveLength(1);
    expect(urlOf(fresh)).not.toBe(urlOf(again));
  });
});
