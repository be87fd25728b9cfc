import { createHash } from "node:crypto";
import type { Resource } from "./policy.js";

/** Settings keys whose values are credentials: left out, so a fingerprint says nothing about them. */
// Not "credentials": kubernetes uses it for a flag (hand out a kubeconfig), which is a real change.
const SECRET_KEY = /secret|password|passphrase|token|private.?key/i;

/** A settings value with every credential removed (secret keys dropped, URL passwords blanked). */
function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([key]) => !SECRET_KEY.test(key))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, v]) => [key, withoutSecrets(v)]),
    );
  }
  if (typeof value === "string" && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      const url = new URL(value);
      url.password = "";
      return url.toString();
    } catch {
      return value;
    }
  }
  return value;
}

/**
 * What a grant was made through: the provider and a hash of where its settings point (target,
 * roles, …) but not of its credentials, so rotating a password or webhook secret is not a change
 * of target while moving a resource to another database or URL is. Stored on each grant; a policy
 * that would revoke a live grant through different settings than it was granted with is refused.
 */
export function resourceFingerprint(resource: Pick<Resource, "provider" | "settings">): string {
  const body = JSON.stringify([resource.provider, withoutSecrets(resource.settings)]);
  return createHash("sha256").update(body).digest("hex").slice(0, 32);
}
