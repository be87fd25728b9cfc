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
    expiresAt: grant.expiresAt ?? new Date(),
    reason: request.reason,
  };
}

/** An error message safe to store and show: one line, bounded, from our own providers' messages. */
export function safeErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split("\n").find((l) => l.trim() !== "");
  return line?.trim().slice(0, 300) ?? "unknown error";
}
