/**
 * The README's database grants, run for real: an owner role migrates, jit's role appends and
 * verifies, and cannot change or delete audit events.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAudit, appendAuditMany, prepareAuditKey, verifyAudit } from "../../src/store/audit.js";
import { createDb, type Db } from "../../src/store/db.js";
import { migrate } from "../../src/store/migrator.js";
import { dropDatabase, PG_ROOT } from "../support/harness.js";
import { AUDIT_KEY } from "./audit-fixture.js";

const suffix = randomBytes(4).toString("hex");
const owner = `jit_owner_${suffix}`;
const app = `jit_app_${suffix}`;
const database = `jit_grants_${suffix}`;

function urlAs(user: string): string {
  const url = new URL(`${PG_ROOT}/${database}`);
  url.username = user;
  return url.toString();
}

/** The SQL block of the README's "Security of the audit chain", with its example role names. */
function readmeGrants(): string {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf("### Security of the audit chain"));
  const sql = /```sql\n([\s\S]*?)```/.exec(section)?.[1];
  if (!sql) throw new Error("README has no SQL block in its audit security section");
  const afterMigrate = sql.slice(sql.indexOf("GRANT USAGE"));
  return afterMigrate.replaceAll("jit_app", app);
}

async function asRole<T>(user: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlAs(user) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

let appDb: Db;

/** A client on the cluster's maintenance database, as the superuser: roles are cluster-wide. */
async function asSuperuser(sql: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: `${PG_ROOT}/postgres` });
  await client.connect();
  try {
    for (const statement of sql) await client.query(statement);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await asSuperuser([
    `CREATE ROLE ${owner} LOGIN`,
    `CREATE ROLE ${app} LOGIN`,
    `CREATE DATABASE ${database} OWNER ${owner}`,
  ]);
  await migrate(urlAs(owner));
  await asRole(owner, (client) => client.query(readmeGrants()));
  appDb = createDb(urlAs(app), 4);
});

afterAll(async () => {
  await appDb?.$disconnect();
  await dropDatabase(`${PG_ROOT}/${database}`);
  await asSuperuser([`DROP ROLE IF EXISTS ${app}`, `DROP ROLE IF EXISTS ${owner}`]);
});

describe("the README's grants for jit's role", () => {
  it("let it start (migrations already applied), append and verify", async () => {
    expect(await migrate(urlAs(app))).toMatchObject({ applied: [] });
    await prepareAuditKey(appDb, AUDIT_KEY);
    await appDb.$transaction((tx) => appendAudit(tx, { actor: "U0A", action: "as.app" }));
    await appDb.$transaction((tx) =>
      appendAuditMany(tx, [
        { actor: "jit", action: "as.app.batch" },
        { actor: "jit", action: "as.app.batch" },
      ]),
    );
    expect(await verifyAudit(appDb, { key: AUDIT_KEY })).toMatchObject({ ok: true, events: 3 });
  });

  it.each([
    ["UPDATE", `UPDATE "AuditEvent" SET actor = 'U0MALLORY' WHERE seq = 1`],
    ["DELETE", `DELETE FROM "AuditEvent" WHERE seq = 1`],
    ["TRUNCATE", `TRUNCATE "AuditEvent"`],
    ["DELETE of the head", `DELETE FROM "AuditHead"`],
  ])("refuse %s on the audit tables", async (_what, sql) => {
    await expect(asRole(app, (client) => client.query(sql))).rejects.toMatchObject({ code: "42501" });
    expect(await appDb.auditEvent.count()).toBeGreaterThan(0);
  });

  it("leave jit's other tables writable", async () => {
    await asRole(app, (client) => client.query(`DELETE FROM "Decision" WHERE false`));
  });
});
