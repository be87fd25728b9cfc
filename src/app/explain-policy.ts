import type { Policy, Resource } from "../config/policy.js";
import { formatDuration } from "../domain/duration.js";
import type { ProviderPool } from "../providers/pool.js";
import type { SlackDirectory } from "./directory.js";
import { identitiesOf } from "./provider-context.js";

export interface ExplainDeps {
  policy: Policy;
  providers: ProviderPool;
  /** Resolves groups and e-mails through Slack; null when no working bot token was given. */
  directory: SlackDirectory | null;
  /** Groups Slack could not resolve, filled by the directory's error callback. */
  unresolved: Set<string>;
}

/**
 * `jit policy explain`: what the policy says about one resource, in plain lines, and with `userId`
 * whether that person may request or approve it and why not. Groups are resolved through Slack
 * when the bot token works and listed as ids otherwise, so the answer never guesses.
 */
export async function explainResource(
  deps: ExplainDeps,
  resource: Resource,
  userId?: string,
): Promise<string[]> {
  const groups = async (ids: readonly string[]) =>
    Promise.all(ids.map(async (id) => `${id} (${await membersText(deps, id)})`));
  const principals = async (rule: { users: string[]; groups: string[] }) =>
    [...rule.users, ...(await groups(rule.groups))].join(", ") || "nobody";
  const requesters = resource.requesters;
  const anyone = !requesters || requesters.users.length + requesters.groups.length === 0;
  const needed = deps.providers.forResource(resource.id).identityKey;
  const lines = [
    `${resource.id}: ${resource.name} (provider ${resource.provider})`,
    `  durations: ${formatDuration(deps.policy.minDuration)} to ${formatDuration(resource.maxDuration)}; the clock starts when access is granted`,
    `  who may request: ${anyone ? "anyone in the workspace" : await principals(requesters)}`,
    `  who approves: ${await principals(resource.approvers)}`,
    `  approvals needed: ${resource.requiredApprovals} from distinct approvers; ` +
      (resource.selfApproval
        ? "a requester who is an approver may approve their own request"
        : "nobody approves their own request"),
    `  break-glass: ${resource.breakglass ? "allowed" : "not allowed"}`,
    `  identity needed: ${needed ? `${needed} (from the policy's identities${needed === "email" ? ", or the Slack profile" : ""})` : "none"}`,
    `  extensions: at most ${resource.maxExtensions} per grant, each at most ${formatDuration(resource.maxDuration)}, decided like the request`,
    "  pipelines and auto-approval: not available in this version",
  ];
  if (userId) lines.push(...(await explainUser(deps, resource, userId, needed)));
  return lines;
}

async function explainUser(
  deps: ExplainDeps,
  resource: Resource,
  userId: string,
  needed: string | undefined,
): Promise<string[]> {
  const inGroups = async (ids: string[]) =>
    deps.directory !== null && (await deps.directory.membersOf(ids)).has(userId);
  const requesters = resource.requesters;
  const anyone = !requesters || requesters.users.length + requesters.groups.length === 0;
  const mayRequest =
    anyone || Boolean(requesters?.users.includes(userId)) || (await inGroups(requesters?.groups ?? []));
  const mayApprove = resource.approvers.users.includes(userId) || (await inGroups(resource.approvers.groups));
  const profile = needed && deps.directory ? await deps.directory.profile(userId) : undefined;
  const has = needed ? identitiesOf(deps, userId, profile?.email)[needed] : undefined;
  const lines = [`  ${userId}:`];
  lines.push(
    mayRequest
      ? "    may request it"
      : `    may not request it: not among the requesters${deps.unresolved.size ? " (some groups could not be resolved through Slack)" : ""}`,
  );
  if (mayRequest && needed && !has) {
    lines.push(
      `    but a request would be refused: no ${needed} identity; add identities: { ${userId}: { ${needed}: <…> } } to the policy`,
    );
  } else if (needed && has) {
    lines.push(`    grants go to ${needed} ${has}`);
  }
  lines.push(
    mayApprove
      ? `    may approve others' requests${resource.selfApproval ? " and their own" : ", never their own"}`
      : "    may not approve: not among the approvers",
  );
  return lines;
}

async function membersText(deps: ExplainDeps, groupId: string): Promise<string> {
  if (!deps.directory) return "members not resolved: no Slack bot token";
  const members = [...(await deps.directory.groupMembers(groupId))];
  if (deps.unresolved.has(groupId)) return "could not be resolved through Slack";
  return members.length ? members.join(", ") : "no members";
}
