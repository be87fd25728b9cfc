import { randomBytes } from "node:crypto";
import pg from "pg";
import type { AccessProvider, ExtendContext, GrantContext, GrantResult } from "../types.js";
import { ProviderError } from "../types.js";
import { toProviderError } from "./errors.js";
import { databasesWithObjectsOf, disposeOwned, unfitOwnerReason } from "./owned-objects.js";
import { roleNameFor } from "./role-name.js";
import { scramSha256Verifier } from "./scram.js";
import type { PostgresSettings } from "./settings.js";

/** Tuning knobs that are not part of the user-facing settings (tests shorten the timeouts). */
export interface PostgresProviderOptions {
  /** Pool size; a provider only runs a handful of short admin statements. Default 4. */
  poolMax?: number;
  /** How long to wait for a connection before failing transiently. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Server-side statement timeout. Default 15000 ms. */
  statementTimeoutMs?: number;
}

interface Target {
  host: string;
  port: string;
  database: string;
  sslmode: string | null;
}

function parseTarget(url: string): { target: Target; adminPassword: string } {
  const parsed = new URL(url);
  return {
    target: {
      host: parsed.hostname || "localhost",
      port: parsed.port || "5432",
      database: decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "postgres",
      sslmode: parsed.searchParams.get("sslmode"),
    },
    adminPassword: decodeURIComponent(parsed.password),
  };
}

/** The admin URL pointed at another database of the same cluster (same credentials and options). */
function urlForDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/**
 * Grants access to a PostgreSQL database by creating one LOGIN role per grant, with a fresh random
 * password, `VALID UNTIL` the grant's expiry, and membership (with inheritance) in the configured
 * `roles`. Revoking blocks logins, terminates the role's sessions, drops whatever the role owns in
 * every database of the cluster (or hands it to `reassignOwnedTo`, never to the admin), and drops
 * the role. Both are idempotent and keyed by grant, never by user.
 */
export class PostgresProvider implements AccessProvider {
  readonly #pool: pg.Pool;
  readonly #url: string;
  /** Connection settings shared by the pool and the short-lived clients for other databases. */
  readonly #connection: pg.ClientConfig;
  readonly #roles: readonly string[];
  readonly #reassignTo: string | undefined;
  readonly #target: Target;
  readonly #adminPassword: string;

  constructor(settings: PostgresSettings, options: PostgresProviderOptions = {}) {
    const { target, adminPassword } = parseTarget(settings.url);
    this.#target = target;
    this.#adminPassword = adminPassword;
    this.#url = settings.url;
    this.#roles = [...settings.roles];
    this.#reassignTo = settings.reassignOwnedTo;
    this.#connection = {
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      statement_timeout: options.statementTimeoutMs ?? 15_000,
      application_name: "jit",
    };
    this.#pool = new pg.Pool({
      ...this.#connection,
      connectionString: settings.url,
      max: options.poolMax ?? 4,
      idleTimeoutMillis: 10_000,
    });
    // An idle client dying (server restart, network blip) must not crash the process; the next
    // checkout simply opens a new connection or fails with a transient error.
    this.#pool.on("error", () => undefined);
  }

  async grant(ctx: GrantContext): Promise<GrantResult> {
    const role = roleNameFor(ctx);
    const password = randomBytes(24).toString("base64url");
    const verifier = await scramSha256Verifier(password);
    const auth = `PASSWORD ${pg.escapeLiteral(verifier)} VALID UNTIL ${pg.escapeLiteral(ctx.expiresAt.toISOString())}`;
    const quoted = pg.escapeIdentifier(role);
    try {
      await this.#transaction(role, async (client) => {
        const exists = await roleExists(client, role);
        if (exists) {
          await client.query(`ALTER ROLE ${quoted} WITH LOGIN INHERIT ${auth}`);
        } else {
          await client.query(
            `CREATE ROLE ${quoted} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS ${auth}`,
          );
        }
        await client.query(`GRANT ${this.#roles.map((r) => pg.escapeIdentifier(r)).join(", ")} TO ${quoted}`);
      });
    } catch (error) {
      throw toProviderError(error, `could not grant role "${role}"`, [
        this.#adminPassword,
        password,
        verifier,
      ]);
    }
    const { host, port, database, sslmode } = this.#target;
    const query = sslmode ? `?sslmode=${encodeURIComponent(sslmode)}` : "";
    const hostPort = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    const db = encodeURIComponent(database);
    return {
      details: {
        username: role,
        host,
        port,
        database,
        connection: `postgresql://${role}@${hostPort}/${db}${query}`,
      },
      secrets: {
        password,
        url: `postgresql://${role}:${encodeURIComponent(password)}@${hostPort}/${db}${query}`,
      },
    };
  }

  async revoke(ctx: GrantContext): Promise<void> {
    const role = roleNameFor(ctx);
    const quoted = pg.escapeIdentifier(role);
    try {
      // Step 1, committed on its own: from now on nobody can log in as this role.
      const found = await this.#transaction(role, async (client) => {
        if (!(await roleExists(client, role))) return false;
        await client.query(`ALTER ROLE ${quoted} WITH NOLOGIN`);
        return true;
      });
      if (!found) return;
      // Step 2: end the sessions already open (VALID UNTIL only checks at login time).
      await this.#terminateSessions(role);
      // Step 3: drop (or hand to the NOLOGIN owner) what it made, in every database, then the role.
      // The lock held in the admin database keeps a concurrent grant or revoke of this role out.
      await this.#transaction(role, async (client) => {
        if (!(await roleExists(client, role))) return;
        await this.#disposeOwnedElsewhere(client, role);
        await disposeOwned(client, role, this.#reassignTo);
        await client.query(`DROP ROLE ${quoted}`);
      });
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      // "role does not exist": done if it is our role that someone dropped meanwhile, but not when
      // it is the reassignOwnedTo role that vanished under us.
      if (error instanceof pg.DatabaseError && error.code === "42704" && !(await this.#roleLives(role)))
        return;
      throw toProviderError(error, `could not revoke role "${role}"`, [this.#adminPassword]);
    }
  }

  /**
   * Moves the role's `VALID UNTIL` to the new expiry (never earlier): open sessions are untouched,
   * and new logins keep working past the old expiry. Only the validity changes, so a role that a
   * revocation already made NOLOGIN stays that way; a role that is gone is an error (nothing to extend).
   */
  async extend(ctx: ExtendContext): Promise<void> {
    const role = roleNameFor(ctx);
    const until = ctx.expiresAt.toISOString();
    try {
      await this.#transaction(role, async (client) => {
        const found = await client.query<{ later: boolean }>(
          "SELECT rolvaliduntil IS NOT NULL AND rolvaliduntil < $2::timestamptz AS later FROM pg_roles WHERE rolname = $1",
          [role, until],
        );
        const row = found.rows[0];
        if (!row)
          throw new ProviderError(`postgres: role "${role}" does not exist; nothing to extend`, false);
        if (row.later) {
          await client.query(
            `ALTER ROLE ${pg.escapeIdentifier(role)} VALID UNTIL ${pg.escapeLiteral(until)}`,
          );
        }
      });
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      throw toProviderError(error, `could not extend role "${role}"`, [this.#adminPassword]);
    }
  }

  /**
   * Disposes of what `role` owns or holds in every database other than the admin's, each through a
   * short-lived admin connection of its own. Refuses before touching any object when the owner
   * configured to keep them is unfit or when a database that refuses connections holds some of them.
   */
  async #disposeOwnedElsewhere(admin: pg.PoolClient, role: string): Promise<void> {
    const kept = `postgres: role "${role}" can no longer log in, but it was not dropped`;
    if (this.#reassignTo) {
      const unfit = await unfitOwnerReason(admin, this.#reassignTo);
      if (unfit) throw new ProviderError(`${kept}: ${unfit}`, false);
    }
    const here = (await admin.query<{ name: string }>("SELECT current_database() AS name")).rows[0]?.name;
    const elsewhere = (await databasesWithObjectsOf(admin, role)).filter((db) => db.name !== here);
    const closed = elsewhere.filter((db) => !db.allowsConnections).map((db) => `"${db.name}"`);
    if (closed.length > 0) {
      throw new ProviderError(
        `${kept}: it owns objects or holds privileges in database ${closed.join(", ")}, which refuses connections (ALLOW_CONNECTIONS false); allow connections there, or drop its objects by hand`,
        false,
      );
    }
    for (const { name } of elsewhere) {
      try {
        await this.#inDatabase(name, (client) => disposeOwned(client, role, this.#reassignTo));
      } catch (error) {
        throw toProviderError(error, `could not drop what role "${role}" owns in database "${name}"`, [
          this.#adminPassword,
        ]);
      }
    }
  }

  /** Runs `work` in a transaction on a short-lived admin connection to another `database`. */
  async #inDatabase(database: string, work: (client: pg.Client) => Promise<void>): Promise<void> {
    const client = new pg.Client({
      ...this.#connection,
      connectionString: urlForDatabase(this.#url, database),
    });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query("BEGIN");
      await work(client);
      await client.query("COMMIT");
    } finally {
      // Closing without COMMIT rolls the transaction back on the server.
      await client.end().catch(() => undefined);
    }
  }

  /**
   * Reachability plus a configuration sanity check: every role in `roles` must exist, and the
   * `reassignOwnedTo` role, if any, must be fit to keep objects.
   */
  async check(): Promise<void> {
    let missing: string[];
    let unfit: string | undefined;
    const client = await this.#pool.connect().catch((error: unknown) => {
      throw toProviderError(error, "connection check failed", [this.#adminPassword]);
    });
    let failed = false;
    try {
      const result = await client.query<{ name: string }>(
        "SELECT name FROM unnest($1::text[]) AS name WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name)",
        [this.#roles],
      );
      missing = result.rows.map((row) => row.name);
      if (this.#reassignTo) unfit = await unfitOwnerReason(client, this.#reassignTo);
    } catch (error) {
      failed = true;
      throw toProviderError(error, "connection check failed", [this.#adminPassword]);
    } finally {
      client.release(failed); // a connection that failed a query is not trusted back into the pool
    }
    if (missing.length > 0) {
      throw new ProviderError(`postgres: roles do not exist: ${missing.join(", ")}`, false);
    }
    if (unfit) throw new ProviderError(`postgres: ${unfit}`, false);
  }

  async close(): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end();
  }

  /** Whether `role` still exists; true when that cannot be told (so no revoke is wrongly called done). */
  async #roleLives(role: string): Promise<boolean> {
    const result = await this.#pool
      .query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])
      .catch(() => undefined);
    return result === undefined || (result.rowCount ?? 0) > 0;
  }

  async #terminateSessions(role: string): Promise<void> {
    await this.#pool.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
      [role],
    );
  }

  /** Runs `work` in a transaction holding an advisory lock on the role, so concurrent calls queue. */
  async #transaction<T>(role: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [role]);
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

async function roleExists(client: pg.PoolClient, role: string): Promise<boolean> {
  const result = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
  return (result.rowCount ?? 0) > 0;
}
