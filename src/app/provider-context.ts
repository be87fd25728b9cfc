import type { GrantContext } from "../providers/types.js";
import type { Deps } from "./deps.js";

/** What a provider is told about a grant; the same for grant and revoke, so both key on grantId. */
export async function providerContext(
  deps: Deps,
  request: { id: string; requesterId: string; resourceId: string; reason: string },
  grant: { id: string; expiresAt: Date | null },
): Promise<GrantContext> {
  const profile = await deps.directory.profile(request.requesterId);
  return {
    grantId: grant.id,
    requestId: request.id,
    resource: request.resourceId,
    requester: { slackId: request.requesterId, email: profile.email, name: profile.name },
    identities: identitiesOf(deps, request.requesterId, profile.email),
    expiresAt: grant.expiresAt ?? new Date(),
    reason: request.reason,
  };
}

/** A person's provider identities: the policy's `identities` for them, over their Slack e-mail. */
export function identitiesOf(
  deps: Pick<Deps, "policy">,
  slackId: string,
  slackEmail: string | undefined,
): Record<string, string> {
  const listed = Object.hasOwn(deps.policy.identities, slackId) ? deps.policy.identities[slackId] : undefined;
  return { ...(slackEmail ? { email: slackEmail } : {}), ...listed };
}

/**
 * The identity `resourceId`'s provider needs that the person lacks, or null. Asked when a request
 * is filed, so a grant that could never work is refused at once rather than failing after approval.
 */
export async function missingIdentity(
  deps: Pick<Deps, "policy" | "providers" | "directory">,
  slackId: string,
  resourceId: string,
): Promise<string | null> {
  const needed = deps.providers.forResource(resourceId).identityKey;
  if (!needed) return null;
  if (identitiesOf(deps, slackId, undefined)[needed]) return null; // no need to ask Slack
  const profile = await deps.directory.profile(slackId);
  return identitiesOf(deps, slackId, profile.email)[needed] ? null : needed;
}

/**
 * `scheme://[user[:password]@]host[:port]`, then any path, query or fragment up to the next space
 * (punctuation that ends the sentence stays). Cut to `scheme://host[:port]`.
 */
const URL_IN_TEXT =
  /\b([a-z][a-z0-9+.-]*:\/\/)(?:[^\s/?#@]*@)?((?:\[[^\]\s]*\]|[^\s/?#@:[\]]+)(?::\d+)?)(?:[/?#]\S*?)?(?=[.,:;)'"\]]*(?:\s|$))/gi;

/**
 * An error message safe to store and show: one line, bounded, from our own providers' messages.
 * Any URL in it is cut to its scheme and host, whoever wrote the message: a webhook's path or query
 * often is its token, and a connection string's user info holds a password.
 */
export function safeErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split("\n").find((l) => l.trim() !== "");
  return line?.trim().replace(URL_IN_TEXT, "$1$2").slice(0, 300) ?? "unknown error";
}
