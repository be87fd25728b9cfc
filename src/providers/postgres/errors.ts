import { inspect } from "node:util";
import pg from "pg";
import { ProviderError } from "../types.js";

/** SQLSTATEs worth retrying: the server is going away, overloaded, or we lost a race. */
const TRANSIENT_SQLSTATES = new Set(["57P01", "57P02", "57P03", "57014", "40001", "40P01", "55P03", "55006"]);
/** SQLSTATE classes: connection exception, insufficient resources, system error. */
const TRANSIENT_CLASSES = new Set(["08", "53", "58"]);

/** True when retrying later may succeed: any network-level failure, or a transient SQLSTATE. */
export function isTransientPgError(error: unknown): boolean {
  if (error instanceof pg.DatabaseError && typeof error.code === "string") {
    return TRANSIENT_SQLSTATES.has(error.code) || TRANSIENT_CLASSES.has(error.code.slice(0, 2));
  }
  // Everything else is the socket or the pool: ECONNREFUSED, ECONNRESET, ETIMEDOUT, DNS failures,
  // "Connection terminated unexpectedly", "timeout exceeded when trying to connect"…
  return true;
}

/**
 * Wraps a driver error into a {@link ProviderError} whose message names the operation and the role
 * and has every known secret (admin password, issued password, SCRAM verifier) redacted.
 */
export function toProviderError(
  error: unknown,
  what: string,
  secrets: ReadonlyArray<string | undefined>,
): ProviderError {
  let detail = error instanceof Error ? error.message : String(error);
  if (error instanceof AggregateError && error.errors.length > 0 && !detail) {
    detail = error.errors.map((e) => (e instanceof Error ? e.message : String(e))).join("; ");
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && !detail.includes(code)) detail = `${detail} (${code})`;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) detail = detail.split(secret).join("[redacted]");
  }
  // Keep the original error for diagnostics unless it carries a secret anywhere inside it.
  const dump = inspect(error, { depth: 4 });
  const leaks = secrets.some((secret) => secret && secret.length >= 4 && dump.includes(secret));
  return new ProviderError(
    `postgres: ${what}: ${detail}`,
    isTransientPgError(error),
    leaks ? undefined : { cause: error },
  );
}
