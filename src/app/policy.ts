import type { Policy, Resource } from "../config/policy.js";
import type { SlackDirectory } from "./directory.js";

/** Who may do what, per the policy file; group membership comes from Slack (cached briefly). */
export class AccessPolicy {
  constructor(
    private readonly policy: Policy,
    private readonly directory: SlackDirectory,
  ) {}

  resource(id: string): Resource | undefined {
    return this.policy.resources.find((r) => r.id === id);
  }

  isAdmin(userId: string): boolean {
    return this.policy.admins.includes(userId);
  }

  async mayRequest(resource: Resource, userId: string): Promise<boolean> {
    const rule = resource.requesters;
    if (!rule || rule.users.length + rule.groups.length === 0) return true;
    if (rule.users.includes(userId)) return true;
    return (await this.directory.membersOf(rule.groups)).has(userId);
  }

  async requestable(userId: string): Promise<Resource[]> {
    const allowed = await Promise.all(this.policy.resources.map((r) => this.mayRequest(r, userId)));
    return this.policy.resources.filter((_, i) => allowed[i]);
  }

  /** Everyone who may decide on this resource's requests (users plus group members). */
  async approvers(resource: Resource): Promise<Set<string>> {
    const members = await this.directory.membersOf(resource.approvers.groups);
    return new Set([...resource.approvers.users, ...members]);
  }

  /** Why `userId` may not decide on a request by `requesterId`, or null when they may. */
  async refusalToDecide(resource: Resource, userId: string, requesterId: string): Promise<string | null> {
    if (!(await this.approvers(resource)).has(userId)) {
      return `you are not an approver for ${resource.id}`;
    }
    if (userId === requesterId && !resource.selfApproval) {
      return "you cannot approve your own request";
    }
    return null;
  }
}
