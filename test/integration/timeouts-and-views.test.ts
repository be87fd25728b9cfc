import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, SIGNING_SECRET, startHarness } from "../support/harness.js";
import { cardsOf, dmsTo, fileRequest, hasButtons, waitForStatus } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { submitView } from "../support/slack-requests.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

let h: Harness;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: "webhook-secret-0123456789" });
  h = await startHarness({ label: "views", policy: policyWith({ url: receiver.url, requestTimeout: "2s" }) });
});
afterAll(async () => {
  await h?.stop();
  await receiver?.close();
});

describe("request timeout", () => {
  it("expires a request nobody decided on, says so on every card and tells the requester", async () => {
    const id = await fileRequest(h, "U0ALICE", "deploy-hook 10m nobody home");
    await waitFor(() => cardsOf(h.standin, id).length === 3);
    await waitForStatus(h, id, "TIMED_OUT", 10_000);
    await waitFor(() =>
      cardsOf(h.standin, id).every(
        (c) => !hasButtons(c) && JSON.stringify(c.blocks).includes("no decision in time"),
      ),
    );
    await waitFor(() =>
      dmsTo(h, "U0ALICE").some((m) => m.text.includes(`${id}) expired: no approver decided within 2s`)),
    );
    expect(await h.click("U0LEAD1", "jit_approve", id)).toContain("already timed out");
    expect(receiver.events.filter((e) => e.body.requestId === id)).toHaveLength(0);
  });
});

describe("read-only commands", () => {
  it("/jit resources lists what the caller may request", async () => {
    const sent = await h.command("U0ALICE", "resources");
    const reply = await h.reply(sent.responseUrl);
    expect(reply).toContain("`deploy-hook` — Deploy hook (up to 4h)");
    expect(reply).toContain("`two-keys` — Two-person rule (up to 1h, 2 approvals)");
  });

  it("/jit list shows the caller's requests and those awaiting their decision; /jit status shows one", async () => {
    const id = await fileRequest(h, "U0ALICE", "two-keys 30m list me");
    const mine = await h.reply((await h.command("U0ALICE", "list")).responseUrl);
    expect(mine).toContain(`\`${id}\` *two-keys* for 30m — pending`);
    const lead = await h.reply((await h.command("U0LEAD1", "list")).responseUrl);
    expect(lead.split("*Awaiting your decision:*")[1]).toContain(id);
    const status = await h.reply((await h.command("U0LEAD2", `status ${id.toLowerCase()}`)).responseUrl);
    expect(status).toContain(`*Request \`${id}\`*`);
    expect(status).toContain("Reason: list me");
    const stranger = await h.reply((await h.command("U0BOB", `status ${id}`)).responseUrl);
    expect(stranger).toContain(`There is no request ${id} that you can see`);
  });
});

describe("the request modal", () => {
  it("opens on `/jit request` and files a request from a valid submission", async () => {
    await h.command("U0ALICE", "request");
    const open = await h.standin.waitForCall("views.open");
    const view = open.args.view as { callback_id: string; blocks: { block_id: string }[] };
    expect(view.callback_id).toBe("jit_request_modal");
    expect(view.blocks.map((b) => b.block_id)).toEqual(["resource", "duration", "reason"]);

    const result = await submitView(h.url, SIGNING_SECRET, {
      userId: "U0ALICE",
      callbackId: "jit_request_modal",
      values: {
        resource: { resource_input: { selected_option: "deploy-hook" } },
        duration: { duration_input: "45m" },
        reason: { reason_input: "from the form" },
      },
    });
    expect(result.status).toBe(200);
    const dm = await waitFor(() => dmsTo(h, "U0ALICE").find((m) => m.text.includes("for 45m as R-")));
    const id = /R-[0-9A-Z]+/.exec(dm.text)?.[0] as string;
    const stored = await h.db.accessRequest.findUniqueOrThrow({ where: { id } });
    expect(stored).toMatchObject({ resourceId: "deploy-hook", durationSec: 2700, reason: "from the form" });
  });

  it("shows field errors for a bad submission and records nothing", async () => {
    const before = await h.db.accessRequest.count();
    const result = await submitView(h.url, SIGNING_SECRET, {
      userId: "U0ALICE",
      callbackId: "jit_request_modal",
      values: {
        resource: { resource_input: { selected_option: "deploy-hook" } },
        duration: { duration_input: "9h" },
        reason: { reason_input: "   " },
      },
    });
    expect(result.json).toEqual({
      response_action: "errors",
      errors: { reason: "Missing the reason." },
    });
    const tooLong = await submitView(h.url, SIGNING_SECRET, {
      userId: "U0ALICE",
      callbackId: "jit_request_modal",
      values: {
        resource: { resource_input: { selected_option: "deploy-hook" } },
        duration: { duration_input: "9h" },
        reason: { reason_input: "ok" },
      },
    });
    expect(tooLong.json).toEqual({
      response_action: "errors",
      errors: { duration: "9h is longer than the 4h maximum for deploy-hook" },
    });
    expect(await h.db.accessRequest.count()).toBe(before);
  });
});
