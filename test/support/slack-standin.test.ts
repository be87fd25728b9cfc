import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { App, LogLevel, verifySlackRequest } from "@slack/bolt";
import { type WebAPIPlatformError, WebClient } from "@slack/web-api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  blockActionBody,
  clickButton,
  nowSeconds,
  SLACK_DEFAULTS,
  sendSigned,
  sendSlashCommand,
  sign,
  slashCommandFields,
  submitView,
  viewSubmissionPayload,
} from "./slack-requests.js";
import { type SlackStandin, startSlackStandin } from "./slack-standin.js";
import { waitFor } from "./wait.js";

const TOKEN = "xoxb-test-token";
const SECRET = "test-signing-secret";

let standin: SlackStandin;
let client: WebClient;

beforeAll(async () => {
  standin = await startSlackStandin();
  client = new WebClient(TOKEN, {
    slackApiUrl: standin.url,
    retryConfig: { retries: 2, factor: 1, minTimeout: 10, maxTimeout: 20 },
    logLevel: LogLevel.ERROR,
  });
});
afterEach(() => standin.reset());
afterAll(async () => standin.close());

async function slackError(p: Promise<unknown>): Promise<WebAPIPlatformError> {
  try {
    await p;
  } catch (e) {
    return e as WebAPIPlatformError;
  }
  throw new Error("expected the call to fail");
}

describe("Slack Web API stand-in", () => {
  it("serves a base URL ending with /api/", () => {
    expect(standin.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
  });

  it("records postMessage and chat.update with decoded blocks and keeps the current version", async () => {
    const blocks = [
      { type: "section", block_id: "summary", text: { type: "mrkdwn", text: "*R-7KQ2* wants staging-db" } },
      {
        type: "actions",
        block_id: "decide",
        elements: [
          {
            type: "button",
            action_id: "approve",
            text: { type: "plain_text", text: "Approve" },
            value: "R-7KQ2",
          },
          { type: "button", action_id: "deny", text: { type: "plain_text", text: "Deny" }, value: "R-7KQ2" },
        ],
      },
    ];
    const posted = await client.chat.postMessage({ channel: "C0APPROVALS", text: "Request R-7KQ2", blocks });
    expect(posted.ok).toBe(true);
    expect(posted.channel).toBe("C0APPROVALS");
    expect(posted.ts).toMatch(/^\d{10}\.\d{6}$/);
    const second = await client.chat.postMessage({ channel: "C0APPROVALS", text: "another" });
    expect(Number(second.ts)).toBeGreaterThan(Number(posted.ts));

    const [call] = standin.callsTo("chat.postMessage");
    expect(call?.contentType).toBe("application/x-www-form-urlencoded");
    expect(call?.token).toBe(TOKEN);
    expect(call?.args.blocks).toEqual(blocks);
    expect(call?.args).not.toHaveProperty("token");

    const updatedBlocks = [{ type: "section", text: { type: "mrkdwn", text: "Approved by <@U0LEAD1>" } }];
    const updated = await client.chat.update({
      channel: "C0APPROVALS",
      ts: posted.ts as string,
      text: "Approved",
      blocks: updatedBlocks,
    });
    expect(updated).toMatchObject({ ok: true, channel: "C0APPROVALS", ts: posted.ts, text: "Approved" });
    expect(standin.callsTo("chat.update")[0]?.args.blocks).toEqual(updatedBlocks);

    const current = standin.currentMessage("C0APPROVALS", posted.ts as string);
    expect(current?.text).toBe("Approved");
    expect(current?.blocks).toEqual(updatedBlocks);
    expect(current?.edited?.user).toBe(standin.botUserId);
    expect(standin.messageVersions("C0APPROVALS", posted.ts as string)).toHaveLength(2);
    expect(standin.messagesTo("C0APPROVALS").map((m) => m.ts)).toEqual([posted.ts, second.ts]);
  });

  it("posts to a user id land in their DM channel, as in Slack", async () => {
    const res = await client.chat.postMessage({ channel: "U0LEAD1", text: "hi" });
    expect(res.channel).toBe("D0LEAD1");
    expect(standin.messagesTo("U0LEAD1")).toHaveLength(1);
    expect(standin.messagesTo("D0LEAD1")).toHaveLength(1);
  });

  it("opens DMs with a stable channel per user", async () => {
    const a = await client.conversations.open({ users: "U0LEAD1" });
    expect(a.channel?.id).toBe("D0LEAD1");
    const again = await client.conversations.open({ users: "U0LEAD1" });
    expect(again).toMatchObject({ ok: true, already_open: true, channel: { id: "D0LEAD1" } });
    const b = await client.conversations.open({ users: "U0LEAD2" });
    expect(b.channel?.id).toBe(standin.dmChannelFor("U0LEAD2"));
    expect(b.channel?.id).not.toBe(a.channel?.id);
    expect(standin.callsTo("conversations.open")[0]?.args).toEqual({ users: "U0LEAD1" });
  });

  it("lists user group members and rejects unknown groups", async () => {
    standin.setUsergroup("S0SRE", ["U0SRE1", "U0SRE2"]);
    const res = await client.usergroups.users.list({ usergroup: "S0SRE" });
    expect(res.users).toEqual(["U0SRE1", "U0SRE2"]);
    const err = await slackError(client.usergroups.users.list({ usergroup: "S0NOPE" }));
    expect(err.data.error).toBe("no_such_subteam");
  });

  it("answers users.info with defaults and with what setUser set", async () => {
    const d = await client.users.info({ user: "U0ALICE" });
    expect(d.user).toMatchObject({
      id: "U0ALICE",
      name: "u0alice",
      profile: { email: "u0alice@example.com" },
    });
    standin.setUser("U0BOB", { name: "bob", email: "bob@corp.test", real_name: "Bob Builder" });
    const b = await client.users.info({ user: "U0BOB" });
    expect(b.user).toMatchObject({
      id: "U0BOB",
      name: "bob",
      real_name: "Bob Builder",
      profile: { email: "bob@corp.test", real_name: "Bob Builder", display_name: "bob" },
    });
    expect((await client.users.lookupByEmail({ email: "bob@corp.test" })).user?.id).toBe("U0BOB");
  });

  it("answers auth.test like Slack (Bolt reads user_id and bot_id)", async () => {
    const res = await client.auth.test();
    expect(res).toMatchObject({
      ok: true,
      team_id: standin.teamId,
      user_id: standin.botUserId,
      bot_id: standin.botId,
    });
    expect(res.url).toMatch(/^https:\/\/.+\.slack\.com\/$/);
  });

  it("retries a 429 after Retry-After and succeeds on the second try", async () => {
    standin.failNext("chat.postMessage", { status: 429, retryAfter: 1 });
    const started = Date.now();
    const res = await client.chat.postMessage({ channel: "C1", text: "after rate limit" });
    expect(res.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const calls = standin.callsTo("chat.postMessage");
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[0]?.response).toEqual({ ok: false, error: "ratelimited" });
    expect(standin.messagesTo("C1")).toHaveLength(1);
  });

  it("an HTTP 500 is also retried by the client (web-api treats any non-200 as retryable)", async () => {
    standin.failNext("chat.postMessage", { status: 500 });
    const res = await client.chat.postMessage({ channel: "C1", text: "after a 500" });
    expect(res.ok).toBe(true);
    expect(standin.callsTo("chat.postMessage").map((c) => c.status)).toEqual([500, 200]);
  });

  it("sends Retry-After on 429 and plain text on 500", async () => {
    standin.failNext("chat.postMessage", { status: 429, retryAfter: 7 });
    standin.failNext("chat.postMessage", { status: 500 });
    const post = () =>
      fetch(`${standin.url}chat.postMessage`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
        body: "channel=C1&text=x",
      });
    const r1 = await post();
    expect(r1.status).toBe(429);
    expect(r1.headers.get("retry-after")).toBe("7");
    const r2 = await post();
    expect(r2.status).toBe(500);
    expect(await r2.text()).toBe("Internal Server Error");
    expect((await post()).status).toBe(200);
  });

  it("fails with a platform error when asked, `times` times", async () => {
    standin.failNext("chat.postMessage", { error: "channel_not_found" }, 2);
    expect((await slackError(client.chat.postMessage({ channel: "C1", text: "x" }))).data.error).toBe(
      "channel_not_found",
    );
    expect((await slackError(client.chat.postMessage({ channel: "C1", text: "x" }))).data.error).toBe(
      "channel_not_found",
    );
    expect((await client.chat.postMessage({ channel: "C1", text: "x" })).ok).toBe(true);
  });

  it("requires a bearer token", async () => {
    const res = await fetch(`${standin.url}auth.test`, { method: "POST" });
    expect(await res.json()).toEqual({ ok: false, error: "not_authed" });
    expect(standin.callsTo("auth.test")[0]?.token).toBeUndefined();
  });

  it("parses JSON bodies", async () => {
    const res = await fetch(`${standin.url}chat.postMessage`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify({ channel: "C2", text: "json", blocks: [{ type: "divider" }] }),
    });
    expect(await res.json()).toMatchObject({ ok: true, channel: "C2" });
    expect(standin.callsTo("chat.postMessage")[0]?.args).toEqual({
      channel: "C2",
      text: "json",
      blocks: [{ type: "divider" }],
    });
  });

  it("enforces Slack's limits", async () => {
    expect(
      (await slackError(client.chat.postMessage({ channel: "C1", text: "x".repeat(40_001) }))).data.error,
    ).toBe("msg_too_long");
    const blocks = Array.from({ length: 51 }, () => ({ type: "divider" }));
    expect((await slackError(client.chat.postMessage({ channel: "C1", text: "x", blocks }))).data.error).toBe(
      "invalid_blocks",
    );
    expect(
      (await slackError(client.chat.update({ channel: "C1", ts: "1732570000.000100", text: "x" }))).data
        .error,
    ).toBe("message_not_found");
    expect((await slackError(client.apiCall("chat.postMessage", { channel: "C1" }))).data.error).toBe(
      "no_text",
    );
    const longButton = [
      {
        type: "actions",
        elements: [{ type: "button", action_id: "a", text: { type: "plain_text", text: "x".repeat(76) } }],
      },
    ];
    const err = await slackError(client.chat.postMessage({ channel: "C1", text: "x", blocks: longButton }));
    expect(err.data.error).toBe("invalid_blocks");
    expect(err.data.response_metadata?.messages?.[0]).toMatch(/75 characters/);
  });

  it("answers unknown methods with unknown_method", async () => {
    expect((await slackError(client.apiCall("made.up"))).data.error).toBe("unknown_method");
  });

  it("records ephemeral messages", async () => {
    const res = await client.chat.postEphemeral({ channel: "C1", user: "U0ALICE", text: "only you" });
    expect(res.message_ts).toMatch(/^\d+\.\d{6}$/);
    expect(standin.ephemeralsTo("U0ALICE")).toMatchObject([{ channel: "C1", text: "only you" }]);
  });

  it("opens and updates modals", async () => {
    const view = {
      type: "modal" as const,
      callback_id: "request",
      title: { type: "plain_text" as const, text: "Request access" },
      submit: { type: "plain_text" as const, text: "Request" },
      blocks: [
        {
          type: "input",
          block_id: "reason",
          label: { type: "plain_text" as const, text: "Reason" },
          element: { type: "plain_text_input" as const, action_id: "value" },
        },
      ],
    };
    const opened = await client.views.open({ trigger_id: "123.456.abc", view });
    expect(opened.view?.id).toMatch(/^V/);
    expect(standin.callsTo("views.open")[0]?.args.view).toEqual(view);
    const updated = await client.views.update({ view_id: opened.view?.id as string, view });
    expect(updated.view?.id).toBe(opened.view?.id);
    const tooLong = { ...view, title: { type: "plain_text" as const, text: "x".repeat(25) } };
    expect((await slackError(client.views.open({ trigger_id: "1.2.3", view: tooLong }))).data.error).toBe(
      "invalid_arguments",
    );
    expect((await slackError(client.views.update({ view_id: "VNOPE", view }))).data.error).toBe("not_found");
  });

  it("publishes one Home per user, keeps its id, and refuses a Home over Slack's 100 blocks", async () => {
    const section = (i: number) => ({
      type: "section" as const,
      text: { type: "mrkdwn" as const, text: `line ${i}` },
    });
    const home = (n: number) => ({
      type: "home" as const,
      blocks: Array.from({ length: n }, (_, i) => section(i)),
    });
    const first = await client.views.publish({ user_id: "U0HOME", view: home(100) });
    const again = await client.views.publish({ user_id: "U0HOME", view: home(2) });
    expect(again.view?.id).toBe(first.view?.id);
    expect(standin.homeOf("U0HOME")?.blocks).toHaveLength(2);
    const refused = await slackError(client.views.publish({ user_id: "U0HOME", view: home(101) }));
    expect(refused.data.error).toBe("invalid_arguments");
    expect(standin.homeOf("U0HOME")?.blocks).toHaveLength(2); // unchanged
    const modal = { type: "modal" as const, title: { type: "plain_text" as const, text: "x" }, blocks: [] };
    expect((await slackError(client.views.publish({ user_id: "U0HOME", view: modal }))).data.error).toBe(
      "invalid_arguments",
    );
  });

  it("threads a reply under an existing message, and posts it un-threaded (no error) when the parent is gone", async () => {
    const parent = await client.chat.postMessage({ channel: "C0THREAD", text: "card" });
    const reply = await client.chat.postMessage({
      channel: "C0THREAD",
      text: "reminder",
      thread_ts: parent.ts,
    });
    expect(reply.message?.thread_ts).toBe(parent.ts);
    const nested = await client.chat.postMessage({ channel: "C0THREAD", text: "again", thread_ts: reply.ts });
    expect(nested.message?.thread_ts).toBe(parent.ts); // a reply's ts names its parent's thread
    await client.chat.delete({ channel: "C0THREAD", ts: parent.ts as string });
    const orphan = await client.chat.postMessage({ channel: "C0THREAD", text: "late", thread_ts: parent.ts });
    expect(orphan.ok).toBe(true);
    expect(orphan.message?.thread_ts).toBeUndefined();
  });

  it("records what is posted to a response_url", async () => {
    const url = standin.responseUrl("cmd-1");
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ response_type: "ephemeral", text: "Filed R-7KQ2" }),
    });
    expect(res.status).toBe(200);
    const got = await standin.waitForResponse("cmd-1");
    expect(got.body).toEqual({ response_type: "ephemeral", text: "Filed R-7KQ2" });
    expect(standin.responsesTo(url)).toHaveLength(1);
    expect(standin.responseUrl()).not.toBe(standin.responseUrl());
  });
});

describe("signed requests", () => {
  it("produces a signature Bolt's verifySlackRequest accepts, and that tampering breaks", () => {
    const body = formBodyFor("request staging-db 1h fix the thing");
    const ts = nowSeconds();
    const headers = sign(body, SECRET, ts);
    expect(headers["X-Slack-Signature"]).toMatch(/^v0=[0-9a-f]{64}$/);
    const verify = (b: string, sig: string, t = ts) =>
      verifySlackRequest({
        signingSecret: SECRET,
        body: b,
        headers: { "x-slack-signature": sig, "x-slack-request-timestamp": t },
      });
    expect(() => verify(body, headers["X-Slack-Signature"])).not.toThrow();
    expect(() => verify(`${body}x`, headers["X-Slack-Signature"])).toThrow(/signature mismatch/);
    expect(() => verify(body, headers["X-Slack-Signature"], ts + 1)).toThrow(/signature mismatch/);
    expect(() => verify(body, sign(body, "other-secret", ts)["X-Slack-Signature"])).toThrow(
      /signature mismatch/,
    );
    const stale = ts - 6 * 60;
    expect(() => verify(body, sign(body, SECRET, stale)["X-Slack-Signature"], stale)).toThrow(/stale/);
  });

  it("builds slash command fields in Slack's order", () => {
    const fields = slashCommandFields({ text: "list", userId: "U0ALICE", responseUrl: "http://x/hooks/1" });
    expect(Object.keys(fields)).toEqual([
      "token",
      "team_id",
      "team_domain",
      "channel_id",
      "channel_name",
      "user_id",
      "user_name",
      "command",
      "text",
      "api_app_id",
      "is_enterprise_install",
      "response_url",
      "trigger_id",
    ]);
    expect(fields.command).toBe("/jit");
  });

  it("drives a real Bolt app: command, button, modal, bad signatures", async () => {
    const app = new App({
      token: TOKEN,
      signingSecret: SECRET,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: standin.url },
    });
    const seen: Record<string, unknown> = {};
    app.command("/jit", async ({ command, ack, respond }) => {
      seen.command = command;
      await ack();
      await respond({ response_type: "ephemeral", text: `you said ${command.text}` });
    });
    app.action("approve", async ({ body, ack, client: c }) => {
      await ack();
      seen.action = body;
      await c.chat.postMessage({ channel: body.user.id, text: "approved" });
    });
    app.view("request", async ({ view, ack }) => {
      seen.view = view;
      await ack();
    });
    const server = (await app.start(0)) as Server;
    const appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const responseUrl = standin.responseUrl();
      const r = await sendSlashCommand(appUrl, SECRET, {
        text: "request staging-db 1h <oops> & more",
        userId: "U0ALICE",
        responseUrl,
      });
      expect(r.status).toBe(200);
      expect(r.ms).toBeLessThan(3000);
      const reply = await standin.waitForResponse(responseUrl);
      expect(reply.body).toEqual({
        response_type: "ephemeral",
        text: "you said request staging-db 1h <oops> & more",
      });
      expect(seen.command).toMatchObject({
        user_id: "U0ALICE",
        command: "/jit",
        team_id: SLACK_DEFAULTS.teamId,
      });
      expect(standin.callsTo("auth.test").length).toBeGreaterThan(0);

      const click = await clickButton(appUrl, SECRET, {
        userId: "U0LEAD1",
        actionId: "approve",
        value: "R-7KQ2",
        channel: "D0LEAD1",
        responseUrl: standin.responseUrl(),
      });
      expect(click.status).toBe(200);
      await waitFor(() => standin.messagesTo("U0LEAD1").length === 1);
      expect(seen.action).toMatchObject({
        type: "block_actions",
        actions: [{ action_id: "approve", value: "R-7KQ2" }],
      });

      const submitted = await submitView(appUrl, SECRET, {
        userId: "U0ALICE",
        callbackId: "request",
        privateMetadata: '{"x":1}',
        values: { resource: { pick: { selected_option: "staging-db" } }, reason: { value: "because" } },
      });
      expect(submitted.status).toBe(200);
      expect(seen.view).toMatchObject({
        callback_id: "request",
        private_metadata: '{"x":1}',
        state: {
          values: {
            resource: { pick: { type: "static_select", selected_option: { value: "staging-db" } } },
            reason: { value: { type: "plain_text_input", value: "because" } },
          },
        },
      });

      const body = blockActionBody({
        userId: "U0X",
        actionId: "approve",
        value: "v",
        responseUrl: "http://x/",
      });
      expect((await sendSigned(appUrl, body, { secret: SECRET, signature: "v0=deadbeef" })).status).toBe(401);
      expect((await sendSigned(appUrl, body, { secret: SECRET, unsigned: true })).status).toBe(401);
      expect((await sendSigned(appUrl, body, { secret: SECRET, timestamp: nowSeconds() - 600 })).status).toBe(
        401,
      );
      expect((await sendSigned(appUrl, body, { secret: "wrong" })).status).toBe(401);
      const retried = await sendSigned(appUrl, body, {
        secret: SECRET,
        retryNum: 1,
        retryReason: "http_timeout",
      });
      expect(retried.status).toBe(200);
    } finally {
      await app.stop();
    }
  });

  it("builds view_submission payloads with typed state values", () => {
    const p = viewSubmissionPayload({
      userId: "U1",
      callbackId: "cb",
      values: { b: { a: "text" }, d: { when: { selected_date: "2026-01-01" } } },
    });
    expect(p).toMatchObject({
      type: "view_submission",
      view: {
        callback_id: "cb",
        state: {
          values: {
            b: { a: { type: "plain_text_input", value: "text" } },
            d: { when: { type: "datepicker" } },
          },
        },
      },
    });
  });
});

function formBodyFor(text: string): string {
  return new URLSearchParams(
    slashCommandFields({ text, userId: "U0ALICE", responseUrl: "http://x/h/1" }),
  ).toString();
}
