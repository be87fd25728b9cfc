import { grantIdOf, MANAGED_SELECTOR } from "./names.js";
import { deleteIfOwned, type ObjectKind, type ObjectOps } from "./objects.js";

export interface SweepOptions {
  /**
   * Objects younger than this are left alone (default 5 minutes): a grant made between the caller
   * reading its live ids and this listing must not be mistaken for an ended one.
   */
  minAgeMs?: number;
  now?: Date;
}

export interface SweptObject {
  kind: ObjectKind;
  name: string;
  grantId: string;
}

export const DEFAULT_SWEEP_MIN_AGE_MS = 5 * 60_000;

/**
 * The reconciler's safety net for revocations that never ran: lists the jit-labelled objects of
 * each kind (in the order given: service accounts first, so tokens die before bindings go) and
 * deletes those whose grant is not in `liveGrantIds`. Pass every grant id jit still considers live,
 * of any resource: several resources may share a namespace. Objects without jit's marks are never
 * touched. Returns what was deleted.
 */
export async function sweepEndedGrants(
  kinds: ReadonlyArray<{ kind: ObjectKind; ops: ObjectOps }>,
  liveGrantIds: ReadonlySet<string>,
  options: SweepOptions = {},
): Promise<SweptObject[]> {
  const cutoff = (options.now ?? new Date()).getTime() - (options.minAgeMs ?? DEFAULT_SWEEP_MIN_AGE_MS);
  const swept: SweptObject[] = [];
  for (const { kind, ops } of kinds) {
    for (const item of await ops.list(MANAGED_SELECTOR)) {
      const grantId = grantIdOf(item.metadata);
      const name = item.metadata?.name;
      const created = item.metadata?.creationTimestamp;
      if (!grantId || !name || liveGrantIds.has(grantId)) continue;
      if (!created || new Date(created).getTime() > cutoff) continue;
      if (await deleteIfOwned(ops, kind, name, grantId)) swept.push({ kind, name, grantId });
    }
  }
  return swept;
}
