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
    // Placeholder until the policy's identities land (the providers branch): the Slack e-mail only.
    identities: profile.email ? { email: profile.email } : {},
    expiresAt: grant.expiresAt ?? new Date(),
    reason: request.reason,
  };
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
