import { expect } from "vitest";
import type { Harness } from "./harness.js";
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

/** Card copies of a request (every posted message whose blocks carry its id). */
export function cardsOf(h: Harness, requestId: string) {
  return h.standin
    .callsTo("chat.postMessage")
    .filter((call) => JSON.stringify(call.args.blocks ?? []).includes(`Request \`${requestId}\``))
    .map((call) => {
      const response = call.response as { channel: string; ts: string };
      const current = h.standin.currentMessage(response.channel, response.ts);
      if (!current) throw new Error(`card ${response.ts} vanished`);
      return current;
    });
}

export function hasButtons(message: { blocks?: unknown[] }): boolean {
  return JSON.stringify(message.blocks ?? []).includes('"type":"actions"');
}
