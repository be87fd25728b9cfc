import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresProvider } from "../../src/providers/postgres/provider.js";
import { roleNameFor } from "../../src/providers/postgres/role-name.js";
import { ProviderError } from "../../src/providers/types.js";
import { login } from "../support/pg-login.js";
import {
  type PrivatePostgres,
  READWRITE_ROLE,
  startPrivatePostgres,
  TARGET_DATABASE,
} from "../support/private-postgres.js";
import { grantContext } from "./conformance.js";

/**
 * What a revoke does with the objects a grantee made during its window: a real login as the grantee
 * creates them (including a SECURITY DEFINER function, the way to keep privileges after the window),
 * and afterwards none of them may belong to a superuser or to any role that can log in.
 */

let cluster: PrivatePostgres;
let adminPassword: string;
let provider: PostgresProvider;
const scratchDatabases: string[] = [];

beforeAll(async () => {
  cluster = await startPrivatePostgres();
  adminPassword = decodeURIComponent(new URL(cluster.adminUrl).password);
  provider = new PostgresProvider({ url: cluster.adminUrl, roles: [READWRITE_ROLE] });
});

afterAll(async () => {
  await provider?.close();
  for (const name of scratchDatabases) {
    await asAdmin("postgres", (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(
      () => undefined,
    );
  }
  await cluster?.stop();
});

/** Runs `work` on a short-lived superuser connection to `database`. */
async function asAdmin<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: cluster.urlFor("postgres", adminPassword, database) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Runs `work` logged in as the grantee, with the password the grant issued, on `database`. */
async function asGrantee(
  role: string,
  password: string,
  database: string,
  work: (c: pg.Client) => Promise<void>,
) {
  const client = await login(cluster.urlFor(role, password, database));
  if (!client) throw new Error(`the grantee could not log in to ${database}`);
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database the test may fill; dropped after the file. */
async function scratchDatabase(): Promise<string> {
  const name = `scratch_${randomBytes(4).toString("hex")}`;
  await asAdmin("postgres", (c) => c.query(`CREATE DATABASE ${name} STRATEGY FILE_COPY`));
  scratchDatabases.push(name);
  return name;
}

/** A grant whose role may also create schemas in the target database; returns role and password. */
async function grantWithCreate(p: PostgresProvider = provider) {
  const ctx = grantContext();
  const result = await p.grant(ctx);
  const role = roleNameFor(ctx);
  await asAdmin(TARGET_DATABASE, (c) => c.query(`GRANT CREATE ON DATABASE ${TARGET_DATABASE} TO ${role}`));
  return { ctx, role, password: result.secrets?.password ?? "" };
}

/** Names every object the tests create start with; unique per call so tests never see each other's. */
function objectPrefix(): string {
  return `o${randomBytes(4).toString("hex")}_`;
}

interface MadeObject {
  kind: string;
  name: string;
  owner: string;
  owner_is_superuser: boolean;
  owner_can_login: boolean;
}

/** Every relation, function, schema and type in `database` whose name starts with `prefix`. */
async function objectsNamed(database: string, prefix: string): Promise<MadeObject[]> {
  const rows = await asAdmin(database, (c) =>
    c.query<MadeObject>(
      `SELECT o.kind, o.name, r.rolname AS owner, r.rolsuper AS owner_is_superuser, r.rolcanlogin AS owner_can_login
         FROM (SELECT 'relation' AS kind, relname::text AS name, relowner AS owner FROM pg_class
               UNION ALL SELECT 'function', proname::text, proowner FROM pg_proc
               UNION ALL SELECT 'schema', nspname::text, nspowner FROM pg_namespace
               UNION ALL SELECT 'type', typname::text, typowner FROM pg_type WHERE typtype = 'e') o
         JOIN pg_roles r ON r.oid = o.owner
        WHERE starts_with(o.name, $1)
        ORDER BY o.kind, o.name`,
      [prefix],
    ),
  );
  return rows.rows;
}

/** As the grantee: a table, sequence, view, enum, schema and two SECURITY DEFINER functions. */
async function makeObjects(client: pg.Client, prefix: string, schema = "public"): Promise<void> {
  await client.query(`
    CREATE TABLE ${schema}.${prefix}table (x int);
    CREATE SEQUENCE ${schema}.${prefix}seq;
    CREATE VIEW ${schema}.${prefix}view AS SELECT 1 AS one;
    CREATE TYPE ${schema}.${prefix}mood AS ENUM ('ok');
    CREATE FUNCTION ${schema}.${prefix}backdoor() RETURNS text LANGUAGE sql SECURITY DEFINER AS 'SELECT current_user::text';
    GRANT ALL ON ${schema}.${prefix}table TO PUBLIC;
    CREATE SCHEMA ${prefix}schema;
    CREATE FUNCTION ${prefix}schema.${prefix}escalate() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
    ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC;
  `);
}

async function roleOf(role: string) {
  const result = await asAdmin(TARGET_DATABASE, (c) =>
    c.query<{ rolcanlogin: boolean }>("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", [role]),
  );
  return result.rows[0];
}

async function failureOf(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected the revoke to fail").toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe("postgres revoke: what the grantee made goes with it", () => {
  it("drops everything the grantee made; nothing is handed to the admin or any login role", async () => {
    const { ctx, role, password } = await grantWithCreate();
    const prefix = objectPrefix();
    await asGrantee(role, password, TARGET_DATABASE, (c) => makeObjects(c, prefix));
    expect((await objectsNamed(TARGET_DATABASE, prefix)).map((o) => o.owner)).toEqual(Array(7).fill(role));

    await provider.revoke(ctx);

    expect(await roleOf(role)).toBeUndefined();
    const left = await objectsNamed(TARGET_DATABASE, prefix);
    expect(left.filter((o) => o.owner_is_superuser || o.owner_can_login)).toEqual([]);
    expect(left).toEqual([]);
  });

  it("drops what the grantee made in a second database, and the role with it", async () => {
    const { ctx, role, password } = await grantWithCreate();
    const scratch = await scratchDatabase();
    await asAdmin(TARGET_DATABASE, (c) => c.query(`GRANT CONNECT, CREATE ON DATABASE ${scratch} TO ${role}`));
    await asAdmin(scratch, (c) => c.query(`GRANT CREATE ON SCHEMA public TO ${role}`));
    const prefix = objectPrefix();
    await asGrantee(role, password, scratch, (c) => makeObjects(c, prefix));
    expect(await objectsNamed(scratch, prefix)).toHaveLength(7);

    await provider.revoke(ctx);

    expect(await roleOf(role)).toBeUndefined();
    expect(await objectsNamed(scratch, prefix)).toEqual([]);
    // Idempotent: the role is gone, so a second revoke is done at once.
    await expect(provider.revoke(ctx)).resolves.toBeUndefined();
  });

  it("names a database that refuses connections instead of failing obscurely; a retry finishes once it accepts them", async () => {
    const { ctx, role, password } = await grantWithCreate();
    const scratch = await scratchDatabase();
    await asAdmin(TARGET_DATABASE, (c) => c.query(`GRANT CONNECT, CREATE ON DATABASE ${scratch} TO ${role}`));
    const prefix = objectPrefix();
    await asGrantee(role, password, scratch, (c) =>
      c.query(`CREATE SCHEMA ${prefix}schema`).then(() => undefined),
    );
    await asAdmin("postgres", (c) => c.query(`ALTER DATABASE ${scratch} ALLOW_CONNECTIONS false`));

    const error = await failureOf(provider.revoke(ctx));
    expect(error.message).toContain(`"${scratch}"`);
    expect(error.message).toMatch(/refuses? connections/);
    // Access is over all the same: the role can no longer log in.
    expect(await roleOf(role)).toEqual({ rolcanlogin: false });

    await asAdmin("postgres", (c) => c.query(`ALTER DATABASE ${scratch} ALLOW_CONNECTIONS true`));
    await provider.revoke(ctx);
    expect(await roleOf(role)).toBeUndefined();
    expect(await objectsNamed(scratch, prefix)).toEqual([]);
  });
});

describe("postgres revoke with reassignOwnedTo", () => {
  it("hands the grantee's objects to the configured NOLOGIN owner, in every database, and drops the role", async () => {
    const owner = `graveyard_${randomBytes(4).toString("hex")}`;
    await asAdmin(TARGET_DATABASE, (c) => c.query(`CREATE ROLE ${owner} NOLOGIN`));
    const keeping = new PostgresProvider({
      url: cluster.adminUrl,
      roles: [READWRITE_ROLE],
      reassignOwnedTo: owner,
    });
    try {
      const { ctx, role, password } = await grantWithCreate(keeping);
      const scratch = await scratchDatabase();
      await asAdmin(TARGET_DATABASE, (c) =>
        c.query(`GRANT CONNECT, CREATE ON DATABASE ${scratch} TO ${role}`),
      );
      const prefix = objectPrefix();
      await asGrantee(role, password, TARGET_DATABASE, (c) => makeObjects(c, prefix));
      await asGrantee(role, password, scratch, (c) =>
        c.query(`CREATE SCHEMA ${prefix}schema`).then(() => undefined),
      );

      await keeping.revoke(ctx);

      expect(await roleOf(role)).toBeUndefined();
      const kept = [
        ...(await objectsNamed(TARGET_DATABASE, prefix)),
        ...(await objectsNamed(scratch, prefix)),
      ];
      expect(kept).toHaveLength(8);
      for (const object of kept) {
        expect(object).toMatchObject({ owner, owner_is_superuser: false, owner_can_login: false });
      }
    } finally {
      await keeping.close();
    }
  });

  it("refuses an owner that can log in, is a superuser, has privileges or does not exist, and hands nothing over", async () => {
    const id = randomBytes(4).toString("hex");
    const bad: Array<[string, string, RegExp]> = [
      [`login_${id}`, `CREATE ROLE login_${id} LOGIN`, /can log in/],
      [`super_${id}`, `CREATE ROLE super_${id} NOLOGIN SUPERUSER`, /superuser/],
      [`member_${id}`, `CREATE ROLE member_${id} NOLOGIN IN ROLE ${READWRITE_ROLE}`, /member of/],
      [`creator_${id}`, `CREATE ROLE creator_${id} NOLOGIN CREATEROLE`, /CREATEROLE/],
      [`ghost_${id}`, "SELECT 1", /does not exist/],
    ];
    for (const [owner, create, reason] of bad) {
      await asAdmin(TARGET_DATABASE, (c) => c.query(create));
      const refusing = new PostgresProvider({
        url: cluster.adminUrl,
        roles: [READWRITE_ROLE],
        reassignOwnedTo: owner,
      });
      try {
        const { ctx, role, password } = await grantWithCreate(refusing);
        const prefix = objectPrefix();
        await asGrantee(role, password, TARGET_DATABASE, (c) => makeObjects(c, prefix));

        const error = await failureOf(refusing.revoke(ctx));
        expect(error.transient).toBe(false);
        expect(error.message).toContain(`reassignOwnedTo "${owner}"`);
        expect(error.message).toMatch(reason);
        const check = await failureOf(refusing.check());
        expect(check.message).toMatch(reason);
        // The login is blocked, but nothing was handed to the bad owner.
        expect(await roleOf(role)).toEqual({ rolcanlogin: false });
        expect(new Set((await objectsNamed(TARGET_DATABASE, prefix)).map((o) => o.owner))).toEqual(
          new Set([role]),
        );
        await provider.revoke(ctx); // the default provider cleans up
      } finally {
        await refusing.close();
      }
    }
  });
});
