import type { Prisma } from "../store/db.js";
import type { Deps } from "./deps.js";

/**
 * Runs `fn` in a transaction holding a lock on one grant, so its grant and its revocation never
 * overlap: a revocation that arrives while access is being granted waits, then revokes what was
 * granted; a grant that finds the grant already ended does nothing. Keep audit appends at the end
 * of `fn` (after provider calls): they lock the audit head until commit.
 */
export function withGrantLock<T>(
  deps: Deps,
  grantId: string,
  fn: (tx: Prisma.TransactionClient) => Promise<T>,
): Promise<T> {
  return deps.db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`grant:${grantId}`}))`;
      return fn(tx);
    },
    { timeout: 120_000, maxWait: 60_000 },
  );
}
