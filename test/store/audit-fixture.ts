import { afterAll, beforeAll, beforeEach } from "vitest";
import {
  type AuditInput,
  type AuditRecord,
  appendAudit,
  GENESIS_HASH,
  prepareAuditKey,
} from "../../src/store/audit.js";
import { createDb, type Db } from "../../src/store/db.js";
import { migrate } from "../../src/store/migrator.js";
import { dropDatabase, testDatabaseUrl } from "../support/harness.js";

export const AUDIT_KEY = `${"k".repeat(16)}-test-audit-key-0123456789`;

/**
 * A migrated database of its own for one test file; every test starts from an empty chain at
 * genesis, with appends unkeyed (prepareAuditKey(db, key) switches the key).
 */
export function useAuditDb(label: string) {
  const fixture = { url: "", db: undefined as unknown as Db };
  beforeAll(async () => {
    fixture.url = testDatabaseUrl(label);
    await migrate(fixture.url);
    fixture.db = createDb(fixture.url, 10);
  });
  afterAll(async () => {
    await fixture.db?.$disconnect();
    if (fixture.url) await dropDatabase(fixture.url);
  });
  beforeEach(async () => {
    await fixture.db.$executeRawUnsafe(`TRUNCATE "AuditEvent"`);
    await fixture.db.$executeRawUnsafe(
      `UPDATE "AuditHead" SET seq = 0, hash = '${GENESIS_HASH}' WHERE id = 1`,
    );
    await prepareAuditKey(fixture.db, undefined);
  });
  return fixture;
}

export function append(db: Db, input: AuditInput): Promise<AuditRecord> {
  return db.$transaction((tx) => appendAudit(tx, input));
}

/** Appends `n` events one after another. */
export async function appendMany(
  db: Db,
  n: number,
  details: (i: number) => Record<string, unknown> = (i) => ({ i }),
): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for (let i = 1; i <= n; i++) {
    records.push(
      await append(db, {
        actor: `U0USER${i}`,
        action: "request.created",
        requestId: `R-${i}`,
        details: details(i),
      }),
    );
  }
  return records;
}
