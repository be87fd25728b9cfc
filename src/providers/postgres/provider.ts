import { randomBytes } from "node:crypto";
import pg from "pg";
import type { AccessProvider, GrantContext, GrantResult } from "../types.js";
import { ProviderError } from "../types.js";
import { toProviderError } from "./errors.js";
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

/**
 * Grants access to a PostgreSQL database by creating one LOGIN role per grant, with a fresh random
 * password, `VALID UNTIL` the grant's expiry, and membership (with inheritance) in the configured
 * `roles`. Revoking blocks logins, terminates the role's sessions, and drops the role with whatever
 * it owns in the admin connection's database. Both are idempotent and keyed by grant, never by user.
 */
export class PostgresProvider implements AccessProvider {
  readonly #pool: pg.Pool;
  readonly #roles: readonly string[];
  readonly #target: Target;
  readonly #adminPassword: string;

  constructor(settings: PostgresSettings, options: PostgresProviderOptions = {}) {
    const { target, adminPassword } = parseTarget(settings.url);
    this.#target = target;
    this.#adminPassword = adminPassword;
    this.#roles = [...settings.roles];
    this.#pool = new pg.Pool({
      connectionString: settings.url,
      max: options.poolMax ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: 10_000,
      statement_timeout: options.statementTimeoutMs ?? 15_000,
      application_name: "jit",
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
      // Step 3: hand its objects to the admin and drop it.
      await this.#transaction(role, async (client) => {
        if (!(await roleExists(client, role))) return;
        await client.query(`REASSIGN OWNED BY ${quoted} TO CURRENT_USER`);
        await client.query(`DROP OWNED BY ${quoted}`);
        await client.query(`DROP ROLE ${quoted}`);
      });
    } catch (error) {
      if (error instanceof pg.DatabaseError && error.code === "42704") return; // dropped meanwhile
      throw toProviderError(error, `could not revoke role "${role}"`, [this.#adminPassword]);
    }
  }

  /** Reachability plus a configuration sanity check: every role in `roles` must exist. */
  async check(): Promise<void> {
    let missing: string[];
    try {
      const result = await this.#pool.query<{ name: string }>(
        "SELECT name FROM unnest($1::text[]) AS name WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name)",
        [this.#roles],
      );
      missing = result.rows.map((row) => row.name);
    } catch (error) {
      throw toProviderError(error, "connection check failed", [this.#adminPassword]);
    }
    if (missing.length > 0) {
      throw new ProviderError(`postgres: roles do not exist: ${missing.join(", ")}`, false);
    }
  }

  async close(): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end();
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
