import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { migrationsDir } from "../paths.js";

/**
 * Applies prisma/migrations the way `prisma migrate deploy` would, keeping Prisma's own
 * `_prisma_migrations` bookkeeping so the Prisma CLI (where its engine is available) agrees with us.
 * We cannot run Prisma's native schema engine here, hence our own. Safe for many replicas starting at
 * once: an advisory lock serializes them and each migration runs in its own transaction.
 */
export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

/** Any fixed 64-bit number; shared by every jit process migrating the same database. */
const MIGRATION_LOCK_KEY = 72_617_001;

const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export class MigrationError extends Error {
  override name = "MigrationError";
}

export function readMigrations(dir = migrationsDir()): MigrationFile[] {
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory())
    .sort()
    .map((name) => {
      const bytes = readFileSync(join(dir, name, "migration.sql"));
      return {
        name,
        sql: bytes.toString("utf8"),
        checksum: createHash("sha256").update(bytes).digest("hex"),
      };
    });
}

/** Creates the database named in the URL when it does not exist (racing creators are fine). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const target = new URL(databaseUrl);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name) throw new MigrationError("DATABASE_URL: names no database");
  const maintenance = new URL(databaseUrl);
  maintenance.pathname = "/postgres";
  const client = new pg.Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount) return false;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    return true;
  } catch (error) {
    // 42P04: created meanwhile by another replica; 23505: the same race seen through pg_database's index.
    const code = (error as { code?: string }).code;
    if (code === "42P04" || code === "23505") return false;
    throw error;
  } finally {
    await client.end();
  }
}

export async function migrate(
  databaseUrl: string,
  options: { dir?: string; onApply?: (name: string) => void } = {},
): Promise<MigrationResult> {
  await ensureDatabase(databaseUrl);
  const migrations = readMigrations(options.dir);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    // Only when missing: even CREATE TABLE IF NOT EXISTS needs CREATE on the schema, which the
    // least-privilege role of the README (jit_app) does not have.
    const found = await client.query(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`);
    if (!found.rows[0]?.present) await client.query(BOOKKEEPING);
    const rows = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
    );
    const applied = new Map(rows.rows.map((row) => [row.migration_name, row]));
    for (const name of applied.keys()) {
      if (!migrations.some((m) => m.name === name)) {
        throw new MigrationError(
          `migration ${name} is applied to the database but missing from prisma/migrations`,
        );
      }
    }
    const result: MigrationResult = { applied: [], alreadyApplied: 0 };
    for (const migration of migrations) {
      const row = applied.get(migration.name);
      if (row?.finished_at) {
        if (row.checksum !== migration.checksum) {
          throw new MigrationError(
            `migration ${migration.name} was changed after it was applied (checksum mismatch); restore the file`,
          );
        }
        result.alreadyApplied++;
        continue;
      }
      if (row) {
        throw new MigrationError(
          `migration ${migration.name} failed earlier and needs attention: fix the database, then mark it rolled back`,
        );
      }
      await apply(client, migration);
      options.onApply?.(migration.name);
      result.applied.push(migration.name);
    }
    return result;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

async function apply(client: pg.Client, migration: MigrationFile): Promise<void> {
  const id = randomUUID();
  await client.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())`,
    [id, migration.checksum, migration.name],
  );
  try {
    await client.query("BEGIN");
    await client.query(migration.sql);
    await client.query(
      `UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`,
      [id],
    );
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    await client.query(`UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1`, [id, String(error)]);
    throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`);
  }
}
