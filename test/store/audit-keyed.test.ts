/**
 * The keyed chain (JIT_AUDIT_KEY) and checkpoints: what someone who can write the database, but
 * holds no key and no checkpoint, can and cannot rewrite so that verify passes.
 */
import { describe, expect, it } from "vitest";
import {
  appendAuditMany,
  GENESIS_HASH,
  hashEvent,
  prepareAuditKey,
  verifyAudit,
} from "../../src/store/audit.js";
import { parseCheckpoint } from "../../src/store/audit-verify.js";
import type { Db } from "../../src/store/db.js";
import { AUDIT_KEY, append, appendMany, useAuditDb } from "./audit-fixture.js";

const fixture = useAuditDb("audit_keyed");
const OTHER_KEY = "another-key-that-is-long-enough-32+";

/** Two unkeyed events, then the key is set and three keyed ones follow (one single, a batch of two). */
async function mixedChain(db: Db) {
  await appendMany(db, 2);
  await prepareAuditKey(db, AUDIT_KEY);
  await append(db, { actor: "U0A", action: "keyed.single" });
  await db.$transaction((tx) =>
    appendAuditMany(tx, [
      { actor: "jit", action: "keyed.batch", details: { n: 1 } },
      { actor: "jit", action: "keyed.batch", details: { n: 2 } },
    ]),
  );
}

/**
 * What an attacker without the key can do: rewrite events from `from` on with `edit`, recompute
 * their hashes as plain sha256 (or with `key`), and move the head to match.
 */
async function rewriteFrom(
  db: Db,
  from: bigint,
  edit: (row: { actor: string }) => { actor: string },
  options: { key?: string } = {},
) {
  const rows = await db.auditEvent.findMany({ where: { seq: { gte: from } }, orderBy: { seq: "asc" } });
  const before = await db.auditEvent.findUnique({ where: { seq: from - 1n } });
  let prevHash = before?.hash ?? GENESIS_HASH;
  for (const row of rows) {
    const forged = { ...row, ...edit(row), prevHash };
    const hash = hashEvent(prevHash, forged, options.key);
    await db.auditEvent.update({
      where: { seq: row.seq },
      data: {
        actor: forged.actor,
        prevHash,
        hash,
        scheme: options.key === undefined ? "sha256" : "hmac-sha256",
      },
    });
    prevHash = hash;
  }
  await db.auditHead.update({ where: { id: 1 }, data: { hash: prevHash } });
}

describe("keyed appends", () => {
  it("hash new events with HMAC-SHA256 under JIT_AUDIT_KEY and mark them hmac-sha256", async () => {
    const { db } = fixture;
    await mixedChain(db);
    const rows = await db.auditEvent.findMany({ orderBy: { seq: "asc" } });
    expect(rows.map((r) => r.scheme)).toEqual([
      "sha256",
      "sha256",
      "hmac-sha256",
      "hmac-sha256",
      "hmac-sha256",
    ]);
    for (const row of rows) {
      const key = row.scheme === "hmac-sha256" ? AUDIT_KEY : undefined;
      expect(hashEvent(row.prevHash, row, key)).toBe(row.hash);
    }
    // The keyed hash is not the plain one, and depends on the key.
    const keyed = rows[2];
    if (!keyed) throw new Error("no keyed row");
    expect(hashEvent(keyed.prevHash, keyed)).not.toBe(keyed.hash);
    expect(hashEvent(keyed.prevHash, keyed, OTHER_KEY)).not.toBe(keyed.hash);

    expect(await verifyAudit(db, { key: AUDIT_KEY })).toEqual({
      ok: true,
      events: 5,
      head: { seq: 5n, hash: rows[4]?.hash },
      stretches: [
        { scheme: "sha256", from: 1n, to: 2n },
        { scheme: "hmac-sha256", from: 3n, to: 5n },
      ],
      recorded: { checked: 0, highest: undefined }, // no summary has posted a checkpoint
    });
  });

  it("verify fails without the key, saying the keyed stretch cannot be checked", async () => {
    await mixedChain(fixture.db);
    expect(await verifyAudit(fixture.db)).toEqual({
      ok: false,
      events: 2,
      badSeq: 3n,
      problem:
        "it starts a keyed stretch (hmac-sha256) and JIT_AUDIT_KEY is not set, so it and the keyed events after it cannot be checked",
      stretches: [
        { scheme: "sha256", from: 1n, to: 2n },
        { scheme: "hmac-sha256", from: 3n, to: 5n },
      ],
    });
  });

  it("verify fails with the wrong key, at the first keyed event", async () => {
    await mixedChain(fixture.db);
    expect(await verifyAudit(fixture.db, { key: OTHER_KEY })).toMatchObject({
      ok: false,
      events: 2,
      badSeq: 3n,
      problem:
        "its contents do not match its keyed hash (a different JIT_AUDIT_KEY, or the event was altered)",
    });
  });

  it("catches a keyed event rewritten and rehashed without the key (under a guessed key)", async () => {
    await mixedChain(fixture.db);
    await rewriteFrom(fixture.db, 4n, () => ({ actor: "U0MALLORY" }), { key: OTHER_KEY });
    expect(await verifyAudit(fixture.db, { key: AUDIT_KEY })).toMatchObject({ ok: false, badSeq: 4n });
  });

  it("catches keyed events downgraded to unkeyed ones that anyone can recompute", async () => {
    await mixedChain(fixture.db);
    await rewriteFrom(fixture.db, 4n, () => ({ actor: "U0MALLORY" }));
    expect(await verifyAudit(fixture.db, { key: AUDIT_KEY })).toEqual({
      ok: false,
      events: 3,
      badSeq: 4n,
      problem: "it is unkeyed (sha256) but follows keyed events (a downgraded event)",
      stretches: [
        { scheme: "sha256", from: 1n, to: 2n },
        { scheme: "hmac-sha256", from: 3n, to: 3n },
      ],
    });
  });

  it("refuses an unknown scheme", async () => {
    await appendMany(fixture.db, 2);
    await fixture.db.auditEvent.update({ where: { seq: 2n }, data: { scheme: "md5" } });
    expect(await verifyAudit(fixture.db)).toMatchObject({
      ok: false,
      badSeq: 2n,
      problem: 'its hash scheme "md5" is unknown',
    });
  });
});

describe("checkpoints", () => {
  it("parse <seq>:<hash> and refuse anything else", () => {
    const hash = "AB".repeat(32);
    expect(parseCheckpoint(`12:${hash}`)).toEqual({ seq: 12n, hash: hash.toLowerCase() });
    for (const bad of [
      "",
      "12",
      `0:${hash}`,
      `-1:${hash}`,
      `12:${hash.slice(2)}`,
      `x:${hash}`,
      `12:${"g".repeat(64)}`,
    ]) {
      expect(parseCheckpoint(bad)).toEqual(expect.stringContaining("must be <seq>:<hash>"));
    }
  });

  it("catch a whole chain rewritten from some event on, head included, which verifies without one", async () => {
    const { db } = fixture;
    await appendMany(db, 5);
    const held = (await verifyAudit(db)) as { ok: true; head: { seq: bigint; hash: string } };
    const middle = await db.auditEvent.findUniqueOrThrow({ where: { seq: 3n } });
    await rewriteFrom(db, 2n, () => ({ actor: "U0MALLORY" }));
    // Unkeyed, a rewrite from event 2 on is invisible to verify alone...
    expect(await verifyAudit(db)).toMatchObject({ ok: true, events: 5 });
    // ...but not to a checkpoint held outside, whether it names the head or an earlier event.
    expect(await verifyAudit(db, { checkpoint: held.head })).toMatchObject({
      ok: false,
      events: 4,
      badSeq: 5n,
      problem: `its hash is not the checkpoint's (5:${held.head.hash})`,
    });
    expect(await verifyAudit(db, { checkpoint: { seq: 3n, hash: middle.hash } })).toMatchObject({
      ok: false,
      badSeq: 3n,
    });
  });

  it("catch a keyed chain downgraded from its first keyed event on (no keyed event left)", async () => {
    const { db } = fixture;
    await mixedChain(db);
    const held = (await verifyAudit(db, { key: AUDIT_KEY })) as {
      ok: true;
      head: { seq: bigint; hash: string };
    };
    await rewriteFrom(db, 3n, () => ({ actor: "U0MALLORY" }));
    // Verify alone sees an unkeyed chain (the CLI says so); the checkpoint catches it.
    expect(await verifyAudit(db, { key: AUDIT_KEY })).toMatchObject({
      ok: true,
      stretches: [{ scheme: "sha256", from: 1n, to: 5n }],
    });
    expect(await verifyAudit(db, { key: AUDIT_KEY, checkpoint: held.head })).toMatchObject({
      ok: false,
      badSeq: 5n,
    });
  });

  it("pass when the chain still hashes to them, at the head or before it", async () => {
    const { db } = fixture;
    const records = await appendMany(db, 4);
    for (const record of records) {
      expect(await verifyAudit(db, { checkpoint: { seq: record.seq, hash: record.hash } })).toMatchObject({
        ok: true,
        events: 4,
      });
    }
  });

  it("truncation: the newest events deleted and the head rewound verify without one, not with one", async () => {
    const { db } = fixture;
    const records = await appendMany(db, 6);
    const oldHead = { seq: 6n, hash: records[5]?.hash ?? "" };
    await db.$executeRawUnsafe(`DELETE FROM "AuditEvent" WHERE seq > 4`);
    await db.auditHead.update({ where: { id: 1 }, data: { seq: 4n, hash: records[3]?.hash } });
    // The documented limitation: the database alone cannot tell.
    expect(await verifyAudit(db)).toMatchObject({ ok: true, events: 4 });
    expect(await verifyAudit(db, { checkpoint: oldHead })).toEqual({
      ok: false,
      events: 4,
      badSeq: 5n,
      problem: "the chain ends at event 4 but the checkpoint names event 6 (events removed)",
      stretches: [{ scheme: "sha256", from: 1n, to: 4n }],
    });
  });
});

describe("prepareAuditKey (at start)", () => {
  it("warns without a key, and refuses to go on unkeyed or under another key once the chain is keyed", async () => {
    const { db } = fixture;
    expect(await prepareAuditKey(db, undefined)).toContain("JIT_AUDIT_KEY is not set");
    expect(await prepareAuditKey(db, AUDIT_KEY)).toBeUndefined();
    await append(db, { actor: "U0A", action: "keyed" });
    await expect(prepareAuditKey(db, undefined)).rejects.toThrow(
      "JIT_AUDIT_KEY: is required: the audit chain is keyed (event 1 is); set the key it was written with",
    );
    await expect(prepareAuditKey(db, OTHER_KEY)).rejects.toThrow(
      "JIT_AUDIT_KEY: audit event 1 does not verify with this key",
    );
    // Refused means not switched: appends stay keyed with the right key.
    await append(db, { actor: "U0A", action: "still keyed" });
    expect(await verifyAudit(db, { key: AUDIT_KEY })).toMatchObject({ ok: true, events: 2 });
    expect(await prepareAuditKey(db, AUDIT_KEY)).toBeUndefined();
  });
});
