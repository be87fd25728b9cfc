import { createHash } from "node:crypto";

/** The label every object jit creates carries; the sweep lists by it. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "jit";
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
/** Annotation (always) and label (when the id is a valid label value) holding the exact grant id. */
export const GRANT_ID_KEY = "jit/grant-id";
export const REQUEST_ID_ANNOTATION = "jit/request-id";
export const RESOURCE_ANNOTATION = "jit/resource";

/** A name valid for every object kind jit creates: ServiceAccounts need an RFC 1123 subdomain. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * The RoleBinding (and ServiceAccount) of one grant: `jit-<grant id in lower case>` (`G-7KQ2` →
 * `jit-g-7kq2`), so an operator can find it from the id in Slack. An id that lower-cases to
 * something Kubernetes refuses (`_`, spaces…) is made valid and suffixed with a hash of the exact
 * id, so two such ids never share a name.
 */
export function objectNameFor(grantId: string): string {
  const plain = `jit-${grantId.toLowerCase()}`;
  if (plain.length <= 253 && DNS1123_SUBDOMAIN.test(plain)) return plain;
  const hash = createHash("sha256").update(grantId, "utf8").digest("hex").slice(0, 10);
  const slug = grantId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 200);
  return slug ? `jit-${slug}-${hash}` : `jit-${hash}`;
}

export interface Marks {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Labels and annotations that say "jit made this, for this grant". */
export function marksFor(ctx: { grantId: string; requestId: string; resource: string }): Marks {
  const labels: Record<string, string> = { [MANAGED_BY_LABEL]: MANAGED_BY };
  if (ctx.grantId.length <= 63 && LABEL_VALUE.test(ctx.grantId)) labels[GRANT_ID_KEY] = ctx.grantId;
  return {
    labels,
    annotations: {
      [GRANT_ID_KEY]: ctx.grantId,
      [REQUEST_ID_ANNOTATION]: ctx.requestId,
      [RESOURCE_ANNOTATION]: ctx.resource,
    },
  };
}

/** The grant an object belongs to, if jit made it; objects without both marks are never jit's. */
export function grantIdOf(
  meta: { labels?: Record<string, string>; annotations?: Record<string, string> } | undefined,
): string | undefined {
  if (meta?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) return undefined;
  return meta.annotations?.[GRANT_ID_KEY];
}
