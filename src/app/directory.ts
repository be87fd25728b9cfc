import type { WebClient } from "@slack/web-api";

/**
 * Who is who in Slack: user group members (for approver and requester rules) and user profiles
 * (for providers that want an email). Cached briefly: group changes apply within `ttlMs`.
 */
export interface SlackProfile {
  slackId: string;
  name?: string;
  email?: string;
}

export class SlackDirectory {
  private groups = new Map<string, { at: number; members: Promise<Set<string>> }>();
  private profiles = new Map<string, { at: number; profile: Promise<SlackProfile> }>();

  constructor(
    private readonly client: WebClient,
    private readonly onError: (groupId: string, error: unknown) => void = () => undefined,
    private readonly ttlMs = 60_000,
  ) {}

  groupMembers(groupId: string): Promise<Set<string>> {
    const cached = this.groups.get(groupId);
    if (cached && Date.now() - cached.at < this.ttlMs) return cached.members;
    // A group Slack cannot resolve (deleted, or a typo in the policy) grants nobody anything, but
    // must not stop the other approvers from getting their cards. Failures are not cached.
    const members = this.client.usergroups.users
      .list({ usergroup: groupId })
      .then((answer) => new Set(answer.users ?? []))
      .catch((error: unknown) => {
        this.groups.delete(groupId);
        this.onError(groupId, error);
        return new Set<string>();
      });
    this.groups.set(groupId, { at: Date.now(), members });
    return members;
  }

  /** Members of all the groups, merged. */
  async membersOf(groupIds: readonly string[]): Promise<Set<string>> {
    const sets = await Promise.all(groupIds.map((id) => this.groupMembers(id)));
    return new Set(sets.flatMap((set) => [...set]));
  }

  profile(slackId: string): Promise<SlackProfile> {
    const cached = this.profiles.get(slackId);
    if (cached && Date.now() - cached.at < this.ttlMs * 10) return cached.profile;
    const profile = this.client.users
      .info({ user: slackId })
      .then((answer) => ({
        slackId,
        name: answer.user?.real_name || answer.user?.name || undefined,
        email: answer.user?.profile?.email || undefined,
      }))
      // A profile is a nicety for providers; without users:read.email we still grant.
      .catch(() => ({ slackId }));
    this.profiles.set(slackId, { at: Date.now(), profile });
    return profile;
  }
}
