import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { migrationsDir } from "../../src/paths.js";
import { ensureDatabase, MigrationError, migrate, readMigrations } from "../../src/store/migrator.js";
import { runCli } from "../support/cli.js";
import { dropDatabase, PG_ROOT, testDatabaseUrl } from "../support/harness.js";
import { waitFor } from "../support/wait.js";

const created: string[] = [];
const tempDirs: string[] = [];

function newDatabaseUrl(label: string): string {
  const url = testDatabaseUrl(label);
  created.push(url);
  return url;
}

/** A migrations folder of our own: `{ "20260101000000_a": "CREATE TABLE …" }`. */
function migrationsFolder(migrations: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "jit-migrations-"));
  tempDirs.push(dir);
  for (const [name, sql] of Object.entries(migrations)) writeMigration(dir, name, sql);
  writeFileSync(join(dir, "migration_lock.toml"), 'provider = "postgresql"\n');
  return dir;
}

function writeMigration(dir: string, name: string, sql: string): void {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(join(dir, name, "migration.sql"), sql);
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function databaseExists(url: string): Promise<boolean> {
  const name = new URL(url).pathname.slice(1);
  const rows = await query(`${PG_ROOT}/postgres`, "SELECT 1 FROM pg_database WHERE datname = $1", [name]);
  return rows.length === 1;
}

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

const bookkeeping = (url: string) =>
  query<MigrationRow>(url, `SELECT * FROM "_prisma_migrations" ORDER BY migration_name, started_at`);

afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

afterAll(async () => {
  await Promise.all(created.map((url) => dropDatabase(url)));
});

describe("migrate", () => {
  it("creates a missing database and applies every migration, once", async () => {
    const url = newDatabaseUrl("migrator-fresh");
    expect(await databaseExists(url)).toBe(false);
    const names = readMigrations().map((m) => m.name);
    expect(names.length).toBeGreaterThan(0);

    const announced: string[] = [];
    const first = await migrate(url, { onApply: (name) => announced.push(name) });
    expect(await databaseExists(url)).toBe(true);
    expect(first).toEqual({ applied: names, alreadyApplied: 0 });
    expect(announced).toEqual(names);
    // The schema is really there, including the audit chain's genesis row.
    expect(await query(url, `SELECT id, seq::int AS seq, hash FROM "AuditHead"`)).toEqual([
      { id: 1, seq: 0, hash: "0".repeat(64) },
    ]);

    const again: string[] = [];
    const second = await migrate(url, { onApply: (name) => again.push(name) });
    expect(second).toEqual({ applied: [], alreadyApplied: names.length });
    expect(again).toEqual([]);
    expect(await bookkeeping(url)).toHaveLength(names.length);
  });

  it("keeps Prisma's _prisma_migrations bookkeeping", async () => {
    const url = newDatabaseUrl("migrator-shape");
    await migrate(url);
    const rows = await bookkeeping(url);
    const onDisk = readMigrations();
    expect(rows.map((r) => r.migration_name)).toEqual(onDisk.map((m) => m.name));
    for (const row of rows) {
      const bytes = readFileSync(join(migrationsDir(), row.migration_name, "migration.sql"));
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.checksum).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at?.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
      expect(row.rolled_back_at).toBeNull();
    }
    const columns = await query<{ column_name: string; data_type: string }>(
      url,
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => [c.column_name, c.data_type])).toEqual([
      ["id", "character varying"],
      ["checksum", "character varying"],
      ["finished_at", "timestamp with time zone"],
      ["migration_name", "character varying"],
      ["logs", "text"],
      ["rolled_back_at", "timestamp with time zone"],
      ["started_at", "timestamp with time zone"],
      ["applied_steps_count", "integer"],
    ]);
  });

  it("applies only the new migrations of a later release, in name order", async () => {
    const url = newDatabaseUrl("migrator-incremental");
    const dir = migrationsFolder({ "20260101000000_a": `CREATE TABLE a (id int);` });
    expect(await migrate(url, { dir })).toEqual({ applied: ["20260101000000_a"], alreadyApplied: 0 });
    writeMigration(dir, "20260301000000_c", `ALTER TABLE b ADD COLUMN c int;`);
    writeMigration(dir, "20260201000000_b", `CREATE TABLE b (id int);`);
    expect(await migrate(url, { dir })).toEqual({
      applied: ["20260201000000_b", "20260301000000_c"],
      alreadyApplied: 1,
    });
    expect(
      await query(url, `SELECT column_name FROM information_schema.columns WHERE table_name = 'b'`),
    ).toEqual(expect.arrayContaining([{ column_name: "c" }]));
  });

  it("refuses a database with a migration that is missing from disk", async () => {
    const url = newDatabaseUrl("migrator-missing");
    const dir = migrationsFolder({
      "20260101000000_a": `CREATE TABLE a (id int);`,
      "20260201000000_b": `CREATE TABLE b (id int);`,
    });
    await migrate(url, { dir });
    rmSync(join(dir, "20260201000000_b"), { recursive: true });
    const attempt = migrate(url, { dir });
    await expect(attempt).rejects.toBeInstanceOf(MigrationError);
    await expect(attempt).rejects.toThrow(
      "migration 20260201000000_b is applied to the database but missing from prisma/migrations",
    );
  });

  it("records a failed migration (logs, no finished_at), rolls it back, and refuses to go on", async () => {
    const url = newDatabaseUrl("migrator-failed");
    const dir = migrationsFolder({
      "20260101000000_good": `CREATE TABLE good (id int);`,
      "20260201000000_broken": `CREATE TABLE half (id int);\nSELEC oops;`,
      "20260301000000_later": `CREATE TABLE later (id int);`,
    });
    const applied: string[] = [];
    await expect(migrate(url, { dir, onApply: (name) => applied.push(name) })).rejects.toThrow(
      /^migration 20260201000000_broken failed: syntax error at or near "SELEC"$/,
    );
    expect(applied).toEqual(["20260101000000_good"]);

    const rows = await bookkeeping(url);
    expect(rows.map((r) => r.migration_name)).toEqual(["20260101000000_good", "20260201000000_broken"]);
    const broken = rows[1];
    expect(broken?.finished_at).toBeNull();
    expect(broken?.applied_steps_count).toBe(0);
    expect(broken?.logs).toContain('syntax error at or near "SELEC"');
    // The migration ran in a transaction: nothing of it is left behind, and nothing after it ran.
    const tables = await query<{ table_name: string }>(
      url,
      `SELECT table_name FROM information_schema.tables WHERE table_name IN ('good', 'half', 'later')`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(["good"]);

    // Even with the file fixed, the next run needs a person to look first.
    writeMigration(dir, "20260201000000_broken", `CREATE TABLE half (id int);`);
    await expect(migrate(url, { dir })).rejects.toThrow(
      "migration 20260201000000_broken failed earlier and needs attention: fix the database, then mark it rolled back",
    );

    // Once marked rolled back (what `prisma migrate resolve --rolled-back` does), it is applied afresh.
    await query(url, `UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE finished_at IS NULL`);
    expect(await migrate(url, { dir })).toEqual({
      applied: ["20260201000000_broken", "20260301000000_later"],
      alreadyApplied: 1,
    });
    const after = await bookkeeping(url);
    expect(after.filter((r) => r.migration_name === "20260201000000_broken")).toHaveLength(2);
    expect(after.filter((r) => r.finished_at !== null)).toHaveLength(3);
  });
});

describe("jit migrate in separate processes at once", () => {
  /** The migrator's advisory lock key (src/store/migrator.ts); if it changes, the gate below times out. */
  const LOCK_KEY = 72_617_001;
  const names = () => readMigrations().map((m) => m.name);

  /** Every migration applied exactly once, across the processes' own reports and the bookkeeping. */
  async function expectAppliedOnce(url: string, runs: Awaited<ReturnType<typeof runCli>>[]) {
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const reported = runs.flatMap((run) => [...run.stdout.matchAll(/^applied (\S+)$/gm)].map((m) => m[1]));
    expect(reported.sort()).toEqual(names().sort());
    const rows = await bookkeeping(url);
    expect(rows.map((r) => r.migration_name)).toEqual(names());
    expect(rows.every((r) => r.finished_at !== null)).toBe(true);
  }

  it("three processes started while the lock is held all wait, then the migrations run once", async () => {
    const url = newDatabaseUrl("migrator-gate");
    await ensureDatabase(url);
    const gate = new pg.Client({ connectionString: url });
    await gate.connect();
    try {
      await gate.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
      const runs = Promise.all([1, 2, 3].map(() => runCli(["migrate"], { DATABASE_URL: url })));
      // All three are at the gate at the same time: three waiting requests for the migrator's lock.
      await waitFor(
        async () => {
          const [row] = await query<{ waiting: number }>(
            url,
            `SELECT count(*)::int AS waiting FROM pg_locks
             WHERE locktype = 'advisory' AND objid = $1 AND NOT granted AND database =
               (SELECT oid FROM pg_database WHERE datname = current_database())`,
            [LOCK_KEY],
          );
          return row?.waiting === 3;
        },
        { timeout: 60_000, interval: 100, message: "three jit migrate processes never waited together" },
      );
      await gate.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]);
      await expectAppliedOnce(url, await runs);
    } finally {
      await gate.end();
    }
  }, 90_000);

  it("three processes started at once on a database that does not exist yet all succeed and apply each migration once", async () => {
    const url = newDatabaseUrl("migrator-processes");
    expect(await databaseExists(url)).toBe(false);
    const runs = await Promise.all([1, 2, 3].map(() => runCli(["migrate"], { DATABASE_URL: url })));
    await expectAppliedOnce(url, runs);
  }, 90_000);
});

describe("ensureDatabase", () => {
  it("creates the database once and reports whether it did", async () => {
    const url = newDatabaseUrl("migrator-ensure");
    expect(await ensureDatabase(url)).toBe(true);
    expect(await ensureDatabase(url)).toBe(false);
    expect(await databaseExists(url)).toBe(true);
  });

  it("creates a database whose name needs quoting", async () => {
    const name = `jit_Mixed-Case ${Date.now()}`;
    const url = `${PG_ROOT}/${encodeURIComponent(name)}`;
    try {
      expect(await ensureDatabase(url)).toBe(true);
      const rows = await query(`${PG_ROOT}/postgres`, "SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      expect(rows).toHaveLength(1);
    } finally {
      // dropDatabase() does not decode the URL's path, so drop this one by its real name.
      await query(`${PG_ROOT}/postgres`, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  });

  it("refuses a URL that names no database", async () => {
    await expect(ensureDatabase(`${PG_ROOT}/`)).rejects.toThrow("DATABASE_URL: names no database");
  });
});
