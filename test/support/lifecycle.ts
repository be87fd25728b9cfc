import { expect } from "vitest";
import type { Harness } from "./harness.js";
import type { SlackStandin } from "./slack-standin.js";
import { waitFor } from "./wait.js";

/** Files `/jit request …` as `userId` and returns the new request id from the reply. */
export async function fileRequest(h: Harness, userId: string, text: string): Promise<string> {
  const sent = await h.command(userId, `request ${text}`);
  expect(sent.status).toBe(200);
  const reply = await h.reply(sent.responseUrl);
  const id = /R-[0-9A-Z]{4,}/.exec(reply)?.[0];
  if (!id) throw new Error(`no request id in reply: ${reply}`);
  return id;
}

/** Waits until the request reaches `status` in PostgreSQL. */
export function waitForStatus(h: Harness, requestId: string, status: string, timeout = 15_000) {
  return waitFor(
    async () => {
      const request = await h.db.accessRequest.findUnique({
        where: { id: requestId },
        include: { grant: true },
      });
      return request?.status === status ? request : undefined;
    },
    { timeout, message: `${requestId} never became ${status}` },
  );
}

/** The DMs the bot sent a user (messages posted to their D… channel), latest versions. */
export function dmsTo(h: Harness, userId: string) {
  return h.standin.messagesTo(h.standin.dmChannelFor(userId));
}

/**
 * The live copies of a request's approval card: every posted message whose blocks carry its id, in
 * its latest version. A copy jit took back (chat.delete) is not live.
 */
export function cardsOf(standin: SlackStandin, requestId: string) {
  return standin
    .callsTo("chat.postMessage")
    .filter((call) => call.ok && JSON.stringify(call.args.blocks ?? []).includes(`Request \`${requestId}\``))
    .map((call) => {
      const response = call.response as { channel: string; ts: string };
      return standin.currentMessage(response.channel, response.ts);
    })
    .filter((message) => message !== undefined);
}

export function hasButtons(message: { blocks?: unknown[] }): boolean {
  return JSON.stringify(message.blocks ?? []).includes('"type":"actions"');
}
