import { createHash } from "node:crypto";

const SLUG_MAX = 24;
const HASH_HEX = 16;

/**
 * The database role that carries one grant. Deterministic so that a retried grant or a revoke finds
 * the same role; keyed by `grantId` (hashed) so overlapping grants of one person stay independent;
 * the requester's slug is only there to make the role recognisable to a DBA. Always matches
 * `^jit_[a-z0-9_]+$` and fits PostgreSQL's 63-byte identifier limit.
 */
export function roleNameFor(grant: { grantId: string; requester: { slackId: string } }): string {
  const slug = grant.requester.slackId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, SLUG_MAX)
    .replace(/_+$/, "");
  const hash = createHash("sha256").update(grant.grantId, "utf8").digest("hex").slice(0, HASH_HEX);
  return slug ? `jit_${slug}_${hash}` : `jit_${hash}`;
}
