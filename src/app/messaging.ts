import type { KnownBlock } from "@slack/types";
import type { WebClient } from "@slack/web-api";

/** Sends DMs and channel posts; caches each user's DM channel id (it never changes). */
export class Messenger {
  private readonly dmChannels = new Map<string, Promise<string>>();

  constructor(private readonly client: WebClient) {}

  dmChannel(userId: string): Promise<string> {
    const cached = this.dmChannels.get(userId);
    if (cached) return cached;
    const channel = this.client.conversations.open({ users: userId }).then((answer) => {
      const id = answer.channel?.id;
      if (!id) throw new Error(`Slack opened no DM channel for ${userId}`);
      return id;
    });
    channel.catch(() => this.dmChannels.delete(userId));
    this.dmChannels.set(userId, channel);
    return channel;
  }

  async post(channel: string, text: string, blocks?: KnownBlock[]): Promise<{ channel: string; ts: string }> {
    const answer = await this.client.chat.postMessage({ channel, text, blocks, unfurl_links: false });
    if (!answer.ts || !answer.channel) throw new Error("Slack did not return the posted message's ts");
    return { channel: answer.channel, ts: answer.ts };
  }

  /** A reply in the thread of `threadTs` (a message of jit's in `channel`), or nothing if it is gone. */
  async reply(channel: string, threadTs: string, text: string): Promise<"threaded" | "parent-gone"> {
    const answer = await this.client.chat.postMessage({
      channel,
      thread_ts: threadTs,
      text,
      unfurl_links: false,
    });
    if (answer.message?.thread_ts) return "threaded";
    // Slack posts a reply to a deleted message un-threaded, without failing: take the loose post back.
    if (answer.ts) await this.remove(channel, answer.ts).catch(() => undefined);
    return "parent-gone";
  }

  async dm(userId: string, text: string, blocks?: KnownBlock[]): Promise<void> {
    await this.post(await this.dmChannel(userId), text, blocks);
  }

  async remove(channel: string, ts: string): Promise<void> {
    await this.client.chat.delete({ channel, ts });
  }

  async update(channel: string, ts: string, text: string, blocks: KnownBlock[]): Promise<void> {
    await this.client.chat.update({ channel, ts, text, blocks });
  }
}
