import { ProviderError } from "../types.js";

/** What the AWS SDK throws for an answer: a named exception with its fault side. */
interface ServiceError extends Error {
  $fault?: "client" | "server";
  $metadata?: { httpStatusCode?: number };
}

/** Client-side answers that mean "later", not "never". */
const RETRYABLE = new Set([
  "ThrottlingException",
  "TooManyRequestsException",
  "ConflictException", // another operation on the same assignment is still running
  "RequestTimeoutException",
]);

/**
 * A `ProviderError` for a failed step: AWS's exception name and message, transient when retrying
 * can help (server faults, throttling, conflicts, and anything that is not an AWS answer at all:
 * the network, the reference-count database). The SDK never puts credentials in messages.
 */
export function awsError(step: string, error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  const e = error as ServiceError;
  const message = (e instanceof Error ? e.message : String(error)).split("\n")[0]?.slice(0, 200);
  if (e instanceof Error && e.$fault) {
    const transient = e.$fault === "server" || RETRYABLE.has(e.name);
    return new ProviderError(`AWS ${step}: ${e.name}: ${message}`, transient, { cause: error });
  }
  return new ProviderError(`AWS ${step}: ${message}`, true, { cause: error });
}
