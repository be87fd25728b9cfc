/**
 * `jit audit verify|export` and `jit migrate` through the real CLI: each validates only the
 * variables it uses and answers bad ones as `start` does; verify's keys, checkpoints and report.
 */
import { describe, expect, it } from "vitest";
import { prepareAuditKey } from "../../src/store/audit.js";
import { type CliResult, runCli } from "../support/cli.js";
import { AUDIT_KEY, appendMany, useAuditDb } from "./audit-fixture.js";

const fixture = useAuditDb("audit_cli");

/** Variables the audit commands do not use, blank (= unset) or wrong, as on an operator's laptop. */
const UNRELATED = {
  SLACK_BOT_TOKEN: "",
  SLACK_SIGNING_SECRET: "",
  LOG_LEVEL: "verbose",
  PORT: "eighty",
  REDIS_URL: "http://not-redis",
};

function expectOneLineRefusal(result: CliResult, message: string) {
  expect(result.code).toBe(1);
  expect(result.stderr).toBe(message);
  expect(result.stdout).toBe("");
}

const NO_CHECKPOINT =
  "highest checkpoint known: none - pass --checkpoint <seq>:<hash> from a copy held outside the database (removal of the newest events is caught only that way)";

describe("jit audit and migrate settings", () => {
  it("ignore unrelated bad variables, and refuse their own with start's one message, no stack trace", async () => {
    await appendMany(fixture.db, 2);
    const env = { ...UNRELATED, DATABASE_URL: fixture.url, JIT_AUDIT_KEY: "" };
    const badDb = { ...env, DATABASE_URL: "mysql://db/jit" };
    const [verify, exported, migrated, verifyBadDb, exportBadDb, migrateBadDb, shortKey, exportShortKey] =
      await Promise.all([
        runCli(["audit", "verify"], env),
        runCli(["audit", "export", "--since", "1h"], env),
        runCli(["migrate"], env),
        runCli(["audit", "verify"], badDb),
        runCli(["audit", "export"], badDb),
        runCli(["migrate"], badDb),
        runCli(["audit", "verify"], { ...env, JIT_AUDIT_KEY: "too-short" }),
        runCli(["audit", "export"], { ...env, JIT_AUDIT_KEY: "too-short" }),
      ]);
    expect(verify).toMatchObject({ code: 0, stderr: "" });
    expect(verify.stdout).toContain("audit chain OK: 2 event(s) verified\n");
    expect(exported).toMatchObject({ code: 0, stderr: "" });
    expect(exported.stdout.trimEnd().split("\n")).toHaveLength(2);
    expect(migrated).toMatchObject({ code: 0, stderr: "" });
    expect(migrated.stdout).toContain("database is up to date");

    const badDbMessage = "jit: invalid environment:\n  - DATABASE_URL: must be a postgresql:// URL\n";
    expectOneLineRefusal(verifyBadDb, badDbMessage);
    expectOneLineRefusal(exportBadDb, badDbMessage);
    expectOneLineRefusal(migrateBadDb, badDbMessage);
    expectOneLineRefusal(
      shortKey,
      "jit: invalid environment:\n  - JIT_AUDIT_KEY: must be at least 32 characters (e.g. the output of: openssl rand -base64 32)\n",
    );
    // export does not use the key, so a bad one does not stop it.
    expect(exportShortKey).toMatchObject({ code: 0, stderr: "" });
  }, 400_000);
});

describe("jit audit verify", () => {
  it("reports each stretch's scheme and fails without the key or with another one", async () => {
    const { db, url } = fixture;
    await appendMany(db, 2);
    await prepareAuditKey(db, AUDIT_KEY);
    await appendMany(db, 3);
    const head = await db.auditHead.findUniqueOrThrow({ where: { id: 1 } });
    const [keyed, unkeyed, wrongKey] = await Promise.all([
      runCli(["audit", "verify"], { DATABASE_URL: url, JIT_AUDIT_KEY: AUDIT_KEY }),
      runCli(["audit", "verify"], { DATABASE_URL: url, JIT_AUDIT_KEY: "" }),
      runCli(["audit", "verify"], { DATABASE_URL: url, JIT_AUDIT_KEY: `${AUDIT_KEY}-not-it` }),
    ]);
    expect(keyed).toEqual({
      code: 0,
      stderr: "",
      stdout: [
        "audit chain OK: 5 event(s) verified",
        "events 1-2: sha256 (unkeyed)",
        "events 3-5: hmac-sha256 (keyed with JIT_AUDIT_KEY)",
        `head: 5:${head.hash} (keep a copy outside the database; pass it later as --checkpoint)`,
        NO_CHECKPOINT,
        "",
      ].join("\n"),
    });
    expect(unkeyed).toEqual({
      code: 1,
      stdout: "events 1-2: sha256 (unkeyed)\nevents 3-5: hmac-sha256 (keyed with JIT_AUDIT_KEY)\n",
      stderr:
        "jit: audit chain BROKEN at event 3: it starts a keyed stretch (hmac-sha256) and JIT_AUDIT_KEY is not set, so it and the keyed events after it cannot be checked (2 event(s) before it verified)\n",
    });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toBe(
      "jit: audit chain BROKEN at event 3: its contents do not match its keyed hash (a different JIT_AUDIT_KEY, or the event was altered) (2 event(s) before it verified)\n",
    );
  }, 400_000);

  it("--checkpoint: passes on the held head, catches truncation with the head rewound, refuses a malformed one", async () => {
    const { db, url } = fixture;
    const records = await appendMany(db, 6);
    const oldHead = `6:${records[5]?.hash}`;
    await db.$executeRawUnsafe(`DELETE FROM "AuditEvent" WHERE seq > 4`);
    await db.auditHead.update({ where: { id: 1 }, data: { seq: 4n, hash: records[3]?.hash } });
    const env = { DATABASE_URL: url };
    const [alone, heldMiddle, heldOld, malformed] = await Promise.all([
      runCli(["audit", "verify"], env),
      runCli(["audit", "verify", "--checkpoint", `3:${records[2]?.hash}`], env),
      runCli(["audit", "verify", "--checkpoint", oldHead], env),
      runCli(["audit", "verify", "--checkpoint", "yesterday"], env),
    ]);
    // The documented limitation: without a checkpoint, a truncation with the head rewound passes.
    expect(alone.code).toBe(0);
    expect(alone.stdout).toContain(`head: 4:${records[3]?.hash} `);
    expect(heldMiddle.code).toBe(0);
    expect(heldMiddle.stdout).toContain(`checkpoint 3:${records[2]?.hash}: matches\n`);
    expect(heldOld.code).toBe(1);
    expect(heldOld.stderr).toBe(
      "jit: audit chain BROKEN at event 5: the chain ends at event 4 but the checkpoint names event 6 (events removed) (4 event(s) before it verified)\n",
    );
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain(
      "jit: error: option '--checkpoint <seq:hash>' argument 'yesterday' is invalid",
    );
    expect(malformed.stderr).toContain("must be <seq>:<hash>");
    expect(malformed.stderr).not.toMatch(/\n\s+at /);
  }, 400_000);
});
