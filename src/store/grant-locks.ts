import pg from "pg";

/**
 * Per-grant locks that outlive no process and span no transaction. A grant and its revocation must
 * never overlap, and both call a provider that may take minutes (a webhook's timeout): holding an
 * interactive transaction across such a call risks the transaction timing out *after* the provider
 * acted, so access granted or removed but never recorded. Instead each holder takes a
 * session-level advisory lock on a connection of its own, calls the provider with no transaction
 * open, and records the outcome in a short transaction. A crashed process drops its connection and
 * with it the lock.
 */
export interface HeldGrantLocks {
  /** Locks as many of `grantIds` as no one else holds, without waiting; returns those taken. */
  tryMore(grantIds: readonly string[]): Promise<string[]>;
}

const lockKey = (grantId: string) => `grant:${grantId}`;

export class GrantLocks {
  private pool: pg.Pool | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly size: number,
  ) {}

  /** Runs `fn` while holding `grantId`'s lock (waiting for it); releases every lock taken. */
  async hold<T>(grantId: string, fn: (held: HeldGrantLocks) => Promise<T>): Promise<T> {
    // Created on first use: the web role never takes a grant lock and opens no such connection.
    this.pool ??= new pg.Pool({
      connectionString: this.databaseUrl,
      max: this.size,
      idleTimeoutMillis: 30_000,
    });
    const client = await this.pool.connect();
    try {
      await client.query("SELECT pg_advisory_lock(hashtext($1))", [lockKey(grantId)]);
      const result = await fn({
        async tryMore(grantIds) {
          if (grantIds.length === 0) return [];
          const taken = await client.query<{ id: string }>(
            "SELECT id FROM unnest($1::text[]) AS id WHERE pg_try_advisory_lock(hashtext('grant:' || id))",
            [grantIds],
          );
          return taken.rows.map((row) => row.id);
        },
      });
      return result;
    } finally {
      // A connection that cannot confirm its locks are gone is destroyed, which releases them.
      const clean = await client
        .query("SELECT pg_advisory_unlock_all()")
        .then(() => true)
        .catch(() => false);
      client.release(!clean);
    }
  }

  async close(): Promise<void> {
    await this.pool?.end();
    this.pool = undefined;
  }
}
