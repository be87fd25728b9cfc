import pg from "pg";

/**
 * Reference counts for access that is one fact on the provider's side, however many grants ask for
 * it: a GitHub login is in a team or not, an Identity Center user has an account assignment or not.
 * Two overlapping grants of that access must keep it until the last one ends, and access the person
 * had before jit must never be removed by jit. So each provider call goes through here:
 *
 * - every grant that holds a target has a `ProviderHold` row (target, grantId), written *before*
 *   the provider call, so a crash between the call and the bookkeeping can only leave a hold that the
 *   grant's revocation (or the failed grant's clean-up revoke) releases, never untracked access;
 * - the first holder records whether the access existed already (`preExisting`): then jit never
 *   removes it; a holder that finds the access gone (someone removed it by hand) clears that mark;
 * - the last holder to release removes the access (or puts back the `prior` state it recorded);
 * - everything about one target runs under a PostgreSQL advisory lock on a connection of its own,
 *   held across the provider call (which may take minutes) with no transaction open, so concurrent
 *   grants, revokes and expiries on any number of replicas are serialized per target;
 * - the same grantId twice is the same as once, in either direction.
 *
 * The counts live in PostgreSQL: restarts and lost Redis data do not change them.
 */
export interface Holds {
  acquire(
    target: string,
    grantId: string,
    existsNow: () => Promise<Presence>,
    grant: () => Promise<void>,
  ): Promise<void>;
  release(
    target: string,
    grantId: string,
    remove: (prior: string | undefined) => Promise<void>,
  ): Promise<void>;
  /**
   * The targets starting with `prefix` that `grantId` holds: a revoke releases what the grant
   * actually acquired, even if the person's identity in the policy has changed since.
   */
  heldBy(grantId: string, prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * What `existsNow` reports: whether the access exists, and optionally a note of the weaker access
 * held instead (e.g. `pull` when `push` is wanted), which the last release is handed to restore.
 */
export type Presence = boolean | { exists: boolean; prior?: string };

interface HoldRow {
  grantId: string;
  preExisting: boolean;
  prior: string | null;
}

export class ProviderHolds implements Holds {
  private pool: pg.Pool | undefined;

  /** `size` bounds how many targets are worked on at once by this process. */
  constructor(
    private readonly databaseUrl: string,
    private readonly size = 10,
  ) {}

  async acquire(
    target: string,
    grantId: string,
    existsNow: () => Promise<Presence>,
    grant: () => Promise<void>,
  ): Promise<void> {
    await this.locked(target, async (client) => {
      const rows = await holders(client, target);
      const presence = normalize(await existsNow());
      if (!rows.some((row) => row.grantId === grantId)) {
        const first = rows[0];
        await client.query(
          `INSERT INTO "ProviderHold" (target, "grantId", "preExisting", prior) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING`,
          [
            target,
            grantId,
            first ? first.preExisting : presence.exists,
            first ? first.prior : (presence.prior ?? null),
          ],
        );
      }
      if (presence.exists) return;
      // Whatever existed before jit is gone now: from here on, the last release removes the access.
      if (rows.some((row) => row.preExisting)) {
        await client.query(`UPDATE "ProviderHold" SET "preExisting" = false WHERE target = $1`, [target]);
      }
      await grant();
    });
  }

  async release(
    target: string,
    grantId: string,
    remove: (prior: string | undefined) => Promise<void>,
  ): Promise<void> {
    await this.locked(target, async (client) => {
      const rows = await holders(client, target);
      const mine = rows.find((row) => row.grantId === grantId);
      if (!mine) return; // never held, or already released
      const last = rows.length === 1;
      // Removed before the row goes: if the call fails, the hold stays and the retried revoke redoes it.
      if (last && !mine.preExisting) await remove(mine.prior ?? undefined);
      await client.query(`DELETE FROM "ProviderHold" WHERE target = $1 AND "grantId" = $2`, [
        target,
        grantId,
      ]);
    });
  }

  async heldBy(grantId: string, prefix: string): Promise<string[]> {
    const result = await this.connect().query<{ target: string }>(
      `SELECT target FROM "ProviderHold" WHERE "grantId" = $1 AND starts_with(target, $2) ORDER BY target`,
      [grantId, prefix],
    );
    return result.rows.map((row) => row.target);
  }

  async close(): Promise<void> {
    await this.pool?.end();
    this.pool = undefined;
  }

  private connect(): pg.Pool {
    // Created on first use: a process that never grants through a counted provider opens nothing.
    if (!this.pool) {
      this.pool = new pg.Pool({
        connectionString: this.databaseUrl,
        max: this.size,
        idleTimeoutMillis: 30_000,
      });
      // An idle connection dropped by the server is replaced on next use; it must not crash the process.
      this.pool.on("error", () => undefined);
    }
    return this.pool;
  }

  private async locked<T>(target: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect().connect();
    try {
      await client.query("SELECT pg_advisory_lock(hashtext($1))", [`hold:${target}`]);
      return await fn(client);
    } finally {
      // A connection that cannot confirm the lock is gone is destroyed, which releases it.
      const clean = await client
        .query("SELECT pg_advisory_unlock_all()")
        .then(() => true)
        .catch(() => false);
      client.release(!clean);
    }
  }
}

async function holders(client: pg.PoolClient, target: string): Promise<HoldRow[]> {
  const result = await client.query<HoldRow>(
    `SELECT "grantId", "preExisting", prior FROM "ProviderHold" WHERE target = $1 ORDER BY "createdAt", "grantId"`,
    [target],
  );
  return result.rows;
}

function normalize(presence: Presence): { exists: boolean; prior?: string } {
  return typeof presence === "boolean" ? { exists: presence } : presence;
}
