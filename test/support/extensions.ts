import { expect } from "vitest";
import type { Harness } from "./harness.js";
import { SIGNING_SECRET } from "./harness.js";
import { clickButton, sendSlashCommand } from "./slack-requests.js";
import type { SlackStandin } from "./slack-standin.js";

let responses = 0;

/** `/jit extend <text>` as `userId`; returns the ephemeral reply. */
export async function extend(h: Harness, userId: string, text: string, appUrl = h.url): Promise<string> {
  const responseUrl = h.standin.responseUrl(`extend-${++responses}`);
  const sent = await sendSlashCommand(appUrl, SIGNING_SECRET, {
    text: `extend ${text}`,
    userId,
    responseUrl,
  });
  expect(sent.status).toBe(200);
  return h.reply(responseUrl);
}

/** Clicks Approve or Deny on an extension's card, as Slack sends it; returns the reply. */
export async function clickExtension(
  h: Harness,
  userId: string,
  action: "jit_extension_approve" | "jit_extension_deny",
  extensionId: string,
  appUrl = h.url,
): Promise<string> {
  const responseUrl = h.standin.responseUrl(`extension-click-${++responses}`);
  const sent = await clickButton(appUrl, SIGNING_SECRET, {
    userId,
    actionId: action,
    value: extensionId,
    blockId: `extension:${extensionId}`,
    responseUrl,
  });
  expect(sent.status).toBe(200);
  return h.reply(responseUrl);
}

/** The live copies of an extension's card (latest versions): posted messages marked with its id. */
export function extensionCardsOf(standin: SlackStandin, extensionId: string) {
  return standin
    .callsTo("chat.postMessage")
    .filter(
      (call) => call.ok && JSON.stringify(call.args.blocks ?? []).includes(`"extension:${extensionId}"`),
    )
    .map((call) => {
      const response = call.response as { channel: string; ts: string };
      return standin.currentMessage(response.channel, response.ts);
    })
    .filter((message) => message !== undefined);
}
