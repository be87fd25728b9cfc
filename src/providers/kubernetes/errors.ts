import { ApiException } from "@kubernetes/client-node";
import { ProviderError } from "../types.js";

/** Answers worth retrying: the API server is busy, restarting, or timed out. */
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** TLS failures that retrying cannot fix: the CA or the server name is wrong. */
const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

const RBAC_HINT =
  "jit's own credentials need the RBAC listed in the README's kubernetes section " +
  "(create/get/delete rolebindings, and serviceaccounts plus serviceaccounts/token with credentials: true, bind on the role, list for the sweep)";

/** The HTTP status of an API answer, or undefined for a network-level failure. */
export function apiStatus(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** The `message` of the API server's `Status` object, or a short form of whatever came back. */
function statusMessage(error: ApiException<unknown>): string {
  let body: unknown = error.body;
  if (typeof error.body === "string") {
    try {
      body = JSON.parse(error.body);
    } catch {
      return error.body.slice(0, 200).replace(/\s+/g, " ").trim();
    }
  }
  const message = (body as { message?: unknown } | null)?.message;
  return typeof message === "string" ? message : `HTTP ${error.code}`;
}

function networkDetail(error: unknown): { text: string; tls: boolean } {
  if (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError")) {
    return { text: "no answer in time", tls: false };
  }
  const parts: string[] = [];
  let tls = false;
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && TLS_CODES.has(code)) tls = true;
    parts.push(
      typeof code === "string" && !current.message.includes(code)
        ? `${current.message} (${code})`
        : current.message,
    );
    current = current.cause;
  }
  return { text: parts.join(": ") || String(error), tls };
}

/**
 * Turns what the client threw into a {@link ProviderError} that says what failed and what to do:
 * 401/403 name the RBAC jit needs, TLS failures point at the CA, busy or unreachable servers are
 * transient. The original error is never attached (its request may carry the bearer token), and
 * every string in `secrets` is cut from the message.
 */
export function kubernetesError(
  error: unknown,
  what: string,
  secrets: ReadonlyArray<string | undefined>,
): ProviderError {
  const redact = (text: string) =>
    secrets.reduce<string>(
      (acc, secret) => (secret && secret.length >= 4 ? acc.split(secret).join("[redacted]") : acc),
      text,
    );
  if (error instanceof ProviderError) return error;
  if (error instanceof ApiException) {
    const code = error.code;
    const message = redact(statusMessage(error));
    if (code === 401) {
      return new ProviderError(
        `kubernetes: ${what}: the API server did not accept jit's token (401 Unauthorized): check token or kubeconfig`,
        false,
      );
    }
    if (code === 403)
      return new ProviderError(`kubernetes: ${what}: forbidden (403): ${message}. ${RBAC_HINT}`, false);
    return new ProviderError(`kubernetes: ${what}: HTTP ${code}: ${message}`, TRANSIENT_STATUS.has(code));
  }
  const { text, tls } = networkDetail(error);
  const hint = tls ? " (check caData, or the kubeconfig's certificate-authority)" : "";
  return new ProviderError(`kubernetes: ${what}: ${redact(text)}${hint}`, !tls);
}
