import { ConfigError } from "../config/env.js";
import { resourceFingerprint } from "../config/fingerprint.js";
import type { Policy } from "../config/policy.js";
import { createDb, type Db } from "../store/db.js";

export interface StrandedGrant {
  requestId: string;
  resourceId: string;
  problem: string;
}

/**
 * Live grants that `policy` would strand: their resource removed, or its provider or settings
 * changed since they were granted. Revoking them through the new policy would fail forever or,
 * worse, "succeed" against the new target while the old access lives on; so jit refuses such a
 * policy (at start and in `jit config check`) until these grants have ended.
 */
export async function findStrandedGrants(db: Db, policy: Policy): Promise<StrandedGrant[]> {
  const live = await db.grant.findMany({
    where: { endedAt: null },
    select: { requestId: true, resourceId: true, provider: true, settingsFingerprint: true },
    orderBy: { requestId: "asc" },
  });
  const resources = new Map(policy.resources.map((r) => [r.id, r]));
  return live.flatMap((grant) => {
    const resource = resources.get(grant.resourceId);
    const stranded = (problem: string) => [
      { requestId: grant.requestId, resourceId: grant.resourceId, problem },
    ];
    if (!resource) return stranded("its resource was removed from the policy");
    if (grant.provider !== null && grant.provider !== resource.provider) {
      return stranded(`its provider changed from ${grant.provider} to ${resource.provider}`);
    }
    if (grant.settingsFingerprint !== null && grant.settingsFingerprint !== resourceFingerprint(resource)) {
      return stranded("the resource's settings changed");
    }
    return [];
  });
}

/** findStrandedGrants for `jit config check`: a database jit never initialised has no grants. */
export async function strandedGrantsIn(databaseUrl: string, policy: Policy): Promise<StrandedGrant[]> {
  const db = createDb(databaseUrl, 1);
  try {
    return await findStrandedGrants(db, policy);
  } catch (error) {
    const code = (error as { code?: string }).code;
    // P1003: no such database; P2021: no Grant table (never migrated). Either way, no grants.
    if (code === "P1003" || code === "P2021") return [];
    const reason = (error as Error).message.trim().split("\n").at(-1);
    throw new ConfigError("environment", [`DATABASE_URL: cannot check the active grants: ${reason}`]);
  } finally {
    await db.$disconnect();
  }
}

/** One message naming every stranded grant and what to do. */
export function describeStrandedGrants(stranded: readonly StrandedGrant[]): string {
  const lines = stranded.map((s) => `  ${s.requestId} (${s.resourceId}): ${s.problem}`);
  return [
    `the policy would strand ${stranded.length} active grant(s); keep the old resource settings until they have ended (or revoke them first):`,
    ...lines,
  ].join("\n");
}
