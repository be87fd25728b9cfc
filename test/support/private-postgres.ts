import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./ports.js";

const run = promisify(execFile);

/** Name of the database created in the private cluster for tests to grant access to. */
export const TARGET_DATABASE = "app";
/**
 * A NOLOGIN role with SELECT/INSERT on `public.items` and CREATE on schema `public` in
 * {@link TARGET_DATABASE}; it has no privilege on `public.secrets`.
 */
export const READWRITE_ROLE = "app_readwrite";

/**
 * A throwaway PostgreSQL cluster that really checks passwords (scram-sha-256), unlike the shared
 * machine cluster which trusts every local connection. Tests use it to prove that an issued password
 * logs in and that a revoked one no longer does.
 */
export interface PrivatePostgres {
  /** Superuser URL (with its random password) pointing at {@link TARGET_DATABASE}. */
  adminUrl: string;
  host: string;
  port: number;
  /** Builds a URL for `user`/`password` on this cluster (defaults to the target database). */
  urlFor(user: string, password: string, database?: string): string;
  /** Stops the server (fast shutdown) without deleting data; simulates an outage. */
  pause(): Promise<void>;
  /** Starts the server again after {@link pause}. */
  resume(): Promise<void>;
  /** Stops the server immediately and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

function binDir(): string {
  return process.env.PG_BINDIR ?? "/usr/lib/postgresql/15/bin";
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
  const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
  return { uid, gid };
}

/** initdb refuses to run as root, so as root every server binary runs as the `postgres` OS user. */
function pgCommand(binary: string, args: string[], asRoot: boolean): [string, string[]] {
  const path = join(binDir(), binary);
  return asRoot ? ["runuser", ["-u", "postgres", "--", path, ...args]] : [path, args];
}

/** Starts a private cluster with password authentication, a target database and a privileged role. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), "jit-pg-"));
  const dataDir = join(dir, "data");
  const pwFile = join(dir, "pwfile");
  const password = randomBytes(18).toString("base64url");
  await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    const { uid, gid } = await postgresIds();
    await chown(dir, uid, gid);
    await chown(pwFile, uid, gid);
  }
  const exec = (binary: string, args: string[]) => {
    const [cmd, argv] = pgCommand(binary, args, asRoot);
    return run(cmd, argv, { timeout: 30_000 });
  };

  const port = await freePort();
  const host = "127.0.0.1";
  const startArgs = [
    "-D",
    dataDir,
    "-l",
    join(dir, "server.log"),
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=${host} -c fsync=off -c full_page_writes=off`,
    "-w",
    "start",
  ];
  let stopped = false;
  try {
    await exec("initdb", [
      "--auth=scram-sha-256",
      `--pwfile=${pwFile}`,
      "-U",
      "postgres",
      "-D",
      dataDir,
      "--no-sync",
      "-E",
      "UTF8",
      "--locale=C",
    ]);
    await exec("pg_ctl", startArgs);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const urlFor = (user: string, pass: string, database = TARGET_DATABASE) =>
    `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@${host}:${port}/${database}`;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await exec("pg_ctl", ["-D", dataDir, "-m", "immediate", "stop"]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const admin = new pg.Client({ connectionString: urlFor("postgres", password, "postgres") });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${TARGET_DATABASE}`);
    await admin.end();
    const target = new pg.Client({ connectionString: urlFor("postgres", password) });
    await target.connect();
    await target.query(`
      CREATE ROLE ${READWRITE_ROLE} NOLOGIN;
      CREATE TABLE public.items (id serial PRIMARY KEY, note text NOT NULL);
      GRANT SELECT, INSERT ON public.items TO ${READWRITE_ROLE};
      GRANT USAGE ON SEQUENCE public.items_id_seq TO ${READWRITE_ROLE};
      GRANT CREATE ON SCHEMA public TO ${READWRITE_ROLE};
      CREATE TABLE public.secrets (id int);
    `);
    await target.end();
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    adminUrl: urlFor("postgres", password),
    host,
    port,
    urlFor,
    async pause() {
      await exec("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "stop"]);
    },
    async resume() {
      await exec("pg_ctl", startArgs);
    },
    stop,
  };
}
