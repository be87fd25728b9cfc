import { ProviderError } from "../types.js";

/** What Octokit throws for an HTTP answer (its `RequestError`, named "HttpError"). */
interface RequestError extends Error {
  status: number;
  response?: { headers: Record<string, string | number | undefined>; data?: unknown };
}

function isRequestError(error: unknown): error is RequestError {
  return (
    error instanceof Error && error.name === "HttpError" && typeof (error as RequestError).status === "number"
  );
}

/** GitHub answers worth retrying: its own outages and rate limits (403 only when it says so). */
function isTransient(error: RequestError): boolean {
  if (error.status >= 500 || error.status === 429 || error.status === 408) return true;
  if (error.status !== 403) return false;
  const headers = error.response?.headers ?? {};
  return headers["x-ratelimit-remaining"] === "0" || /rate limit/i.test(error.message);
}

/** GitHub's own explanation, one line and short; never a header, so never a token. */
function githubMessage(error: RequestError): string {
  const data = error.response?.data as { message?: unknown } | undefined;
  const text = typeof data?.message === "string" ? data.message : error.message;
  return (text.split("\n")[0] ?? "").replace(/\s+-\s+https:\/\/docs\.github\.com\S*/, "").slice(0, 200);
}

/**
 * A `ProviderError` for a failed step: GitHub's status and message, transient when retrying can
 * help. Anything that is not a GitHub answer (the network, the reference-count database) is
 * transient. Octokit already redacts the Authorization header; we quote none of the request.
 */
export function githubError(step: string, error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  if (isRequestError(error)) {
    const status = error.status === 500 && !error.response ? "unreachable" : String(error.status);
    return new ProviderError(`GitHub ${step}: ${status} ${githubMessage(error)}`, isTransient(error), {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError(`GitHub ${step}: ${message.split("\n")[0]?.slice(0, 200)}`, true, {
    cause: error,
  });
}

export const isNotFound = (error: unknown): boolean => isRequestError(error) && error.status === 404;
