import type { WebClient } from "@slack/web-api";
import type { Policy } from "../config/policy.js";
import type { Logger } from "../log.js";

/** What Slack's error code means for the operator, when the bot cannot join a channel itself. */
const ADVICE: Record<string, string> = {
  method_not_supported_for_channel_type: "it is private, so jit cannot join it itself",
  channel_not_found: "jit cannot see it (a private channel, or a wrong id)",
  missing_scope: "the app lacks the channels:join scope (reinstall it from slack-app-manifest.yaml)",
  is_archived: "it is archived",
};

/** The channels jit posts to without being asked there, each with the policy key naming it. */
function channelsToJoin(policy: Policy): Map<string, string> {
  const channels = new Map<string, string>();
  if (policy.approvalsChannel) channels.set(policy.approvalsChannel, "approvalsChannel");
  if (policy.audit.channel && !channels.has(policy.audit.channel)) {
    channels.set(policy.audit.channel, "audit.channel");
  }
  return channels;
}

/**
 * Joins the approvals and audit channels at start, so cards and alerts are not refused with
 * `not_in_channel`. A public channel is joined; one the bot cannot join (private, archived, a
 * missing scope) gets a warning telling the operator to invite it. Never fails the start: the rest
 * of jit works without those channels.
 */
export async function joinChannels(client: WebClient, policy: Policy, logger: Logger): Promise<void> {
  for (const [channel, key] of channelsToJoin(policy)) {
    try {
      await client.conversations.join({ channel });
      logger.info({ channel, key }, "joined channel");
    } catch (error) {
      const code = (error as { data?: { error?: string } }).data?.error;
      const why = code ? (ADVICE[code] ?? `Slack answered ${code}`) : "Slack could not be reached";
      logger.warn(
        { channel, key, error: code },
        `invite @jit to ${channel} (${key}): ${why}; until then its cards and alerts there fail`,
      );
    }
  }
}
