/**
 * The contract every access provider honours. A provider turns an approved request into real
 * access and takes it away again. Both operations must be idempotent: granting twice is the same
 * as granting once, and revoking something that does not exist (or no longer exists) is success.
 * Overlapping grants of the same person to the same resource are independent, so a provider keys
 * everything it creates by `grantId`, never by user alone.
 *
 * Deliberately out of scope: scheduling, retries and audit (the job layer does those), and storing
 * secrets (credentials are returned once, DM'd to the requester and never persisted).
 */
export interface GrantContext {
  grantId: string;
  requestId: string;
  resource: string;
  requester: { slackId: string; email?: string; name?: string };
  expiresAt: Date;
  reason: string;
}

/** What the requester is told after a grant; `secret` fields are shown once and never stored. */
export interface GrantResult {
  /** Human-readable lines for the DM (username, connection string…), with no secret in them. */
  details: Record<string, string>;
  /** Secrets for the DM only (password…). Never logged, audited or persisted. */
  secrets?: Record<string, string>;
}

/** A grant whose access goes on longer: `expiresAt` is the new expiry, never earlier than the old. */
export interface ExtendContext extends GrantContext {
  /** Which extension of this grant (1, 2, …): the same on every retry, so receivers can deduplicate. */
  extension: number;
}

export interface AccessProvider {
  grant(ctx: GrantContext): Promise<GrantResult>;
  /** Ends the access of this grant. Not-found counts as done. */
  revoke(ctx: GrantContext): Promise<void>;
  /**
   * Moves the end of this grant's access to `ctx.expiresAt` without interrupting it; idempotent.
   * Optional: a provider whose access carries no expiry of its own (jit's revocation ends it) needs
   * none, and an extension then only moves jit's clock. Missing access is a failure, not success.
   */
  extend?(ctx: ExtendContext): Promise<void>;
  /** Cheap reachability check used by `jit config check --connect` and readiness diagnostics. */
  check(): Promise<void>;
  /** Releases pools and sockets. */
  close(): Promise<void>;
}

/**
 * A failure the provider understood. `transient` failures (timeouts, connection refused, and
 * whatever answers the provider's contract says to retry) are retried with backoff; permanent ones
 * (settings that can never work) are not retried for grants. Revocations are retried either way: access must not outlive its window.
 * The message must never contain a secret.
 */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ProviderError";
  }
}
