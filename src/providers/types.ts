import type { Holds } from "./holds.js";

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
  /**
   * The requester's identities by name (`github`, `email`, `aws`, …): the policy's `identities`
   * for them, over `{ email }` from their Slack profile when Slack gives one.
   */
  identities: Record<string, string>;
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
  /**
   * The identity this provider acts on (a key of {@link GrantContext.identities}), for providers
   * that grant to an existing account. A request by someone without it is refused when filed.
   */
  readonly identityKey?: string;
  grant(ctx: GrantContext): Promise<GrantResult>;
  /** Ends the access of this grant. Not-found counts as done. */
  revoke(ctx: GrantContext): Promise<void>;
  /**
   * Removes access this provider made for grants that are no longer live (a revoke that never ran,
   * state restored from a backup), leaving anything younger than `minAgeMs` for a later pass.
   * Optional: providers whose objects cannot be listed by grant do without.
   */
  sweep?(liveGrantIds: ReadonlySet<string>, options?: { minAgeMs?: number }): Promise<unknown[]>;
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

/** What a provider may need from the process besides its settings. */
export interface ProviderRuntime {
  /** Reference counts in PostgreSQL, for providers whose access is shared by overlapping grants. */
  holds?: Holds;
}

/** The reference counts a counted provider cannot work without. */
export function requireHolds(runtime: ProviderRuntime, kind: string): Holds {
  if (!runtime.holds) throw new Error(`the ${kind} provider needs the database for its reference counts`);
  return runtime.holds;
}
