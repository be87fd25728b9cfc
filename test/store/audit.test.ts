import { describe, expect, it } from "vitest";
import {
  appendAudit,
  appendAuditMany,
  canonicalJson,
  GENESIS_HASH,
  hashEvent,
  verifyAudit,
} from "../../src/store/audit.js";
import { exportAudit } from "../../src/store/audit-export.js";
import { runCli } from "../support/cli.js";
import { appendMany as appendN, append as appendOne, useAuditDb } from "./audit-fixture.js";

const fixture = useAuditDb("audit");
const append = (input: Parameters<typeof appendAudit>[1]) => appendOne(fixture.db, input);
const appendMany = (n: number, details?: (i: number) => Record<string, unknown>) =>
  appendN(fixture.db, n, details);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("canonicalJson and hashEvent", () => {
  it("sorts keys recursively, drops undefined, keeps arrays in order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null }, u: undefined })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
    expect(canonicalJson([undefined, "x"])).toBe('[null,"x"]');
    expect(canonicalJson(undefined)).toBe("null");
    expect(canonicalJson('quote " and \n')).toBe(JSON.stringify('quote " and \n'));
  });

  it("hashes every field and the previous hash", () => {
    const event = {
      seq: 1n,
      at: new Date("2026-01-01T00:00:00.000Z"),
      actor: "U0A",
      action: "grant.created",
      requestId: "R-1",
      resourceId: "db",
      details: { a: 1 },
    };
    const base = hashEvent(GENESIS_HASH, event);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(hashEvent(GENESIS_HASH, { ...event, details: { a: 1 } })).toBe(base);
    const variants = [
      hashEvent("1".repeat(64), event),
      hashEvent(GENESIS_HASH, { ...event, seq: 2n }),
      hashEvent(GENESIS_HASH, { ...event, at: new Date("2026-01-01T00:00:00.001Z") }),
      hashEvent(GENESIS_HASH, { ...event, actor: "U0B" }),
      hashEvent(GENESIS_HASH, { ...event, action: "grant.revoked" }),
      hashEvent(GENESIS_HASH, { ...event, requestId: null }),
      hashEvent(GENESIS_HASH, { ...event, resourceId: "db2" }),
      hashEvent(GENESIS_HASH, { ...event, details: { a: 2 } }),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });
});

describe("appendAudit", () => {
  it("chains events: seq 1..n, each prevHash is the previous hash, genesis is 64 zeros", async () => {
    const records = await appendMany(5);
    expect(records.map((r) => r.seq)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(records[0]?.prevHash).toBe(GENESIS_HASH);
    expect(GENESIS_HASH).toBe("0".repeat(64));
    for (let i = 1; i < records.length; i++) expect(records[i]?.prevHash).toBe(records[i - 1]?.hash);

    const rows = await fixture.db.auditEvent.findMany({ orderBy: { seq: "asc" } });
    expect(rows.map((r) => ({ seq: r.seq, prevHash: r.prevHash, hash: r.hash }))).toEqual(
      records.map((r) => ({ seq: r.seq, prevHash: r.prevHash, hash: r.hash })),
    );
    for (const row of rows) expect(hashEvent(row.prevHash, row)).toBe(row.hash);
    const head = await fixture.db.auditHead.findUniqueOrThrow({ where: { id: 1 } });
    expect(head).toEqual({ id: 1, seq: 5n, hash: records[4]?.hash });
  });

  it("stores what it was given (null ids, details without undefined)", async () => {
    const record = await append({
      actor: "system",
      action: "reconciler.ran",
      details: { n: 1, gone: undefined },
    });
    const row = await fixture.db.auditEvent.findUniqueOrThrow({ where: { seq: record.seq } });
    expect(row).toMatchObject({
      actor: "system",
      action: "reconciler.ran",
      requestId: null,
      resourceId: null,
    });
    expect(row.details).toEqual({ n: 1 });
    expect(row.at.getTime()).toBe(record.at.getTime());
  });

  it("rolls back with the caller's transaction: no event, no gap", async () => {
    await append({ actor: "U0A", action: "one" });
    await expect(
      fixture.db.$transaction(async (tx) => {
        await appendAudit(tx, { actor: "U0A", action: "lost" });
        throw new Error("state change failed");
      }),
    ).rejects.toThrow("state change failed");
    const next = await append({ actor: "U0A", action: "two" });
    expect(next.seq).toBe(2n);
    expect(await fixture.db.auditEvent.count({ where: { action: "lost" } })).toBe(0);
    expect(await verifyAudit(fixture.db)).toMatchObject({ ok: true, events: 2 });
  });

  it("50 concurrent appends, each in its own transaction, make a gap-free valid chain", async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        append({ actor: `U0C${i}`, action: "concurrent", details: { i } }),
      ),
    );
    expect(results.map((r) => r.seq).sort((a, b) => Number(a - b))).toEqual(
      Array.from({ length: 50 }, (_, i) => BigInt(i + 1)),
    );
    const rows = await fixture.db.auditEvent.findMany({ orderBy: { seq: "asc" } });
    expect(rows).toHaveLength(50);
    expect(new Set(rows.map((r) => (r.details as { i: number }).i)).size).toBe(50);
    expect(await verifyAudit(fixture.db)).toMatchObject({ ok: true, events: 50 });
  });
});

describe("appendAuditMany", () => {
  it("appends a batch in order, interleaving safely with single appends", async () => {
    await append({ actor: "U0A", action: "single" });
    await Promise.all([
      fixture.db.$transaction((tx) =>
        appendAuditMany(
          tx,
          Array.from({ length: 5 }, (_, i) => ({
            actor: "jit",
            action: "batch-a",
            requestId: `R-A${i}`,
            details: { i },
          })),
        ),
      ),
      ...Array.from({ length: 5 }, (_, i) => append({ actor: "U0B", action: "single", details: { i } })),
      fixture.db.$transaction((tx) =>
        appendAuditMany(tx, [
          { actor: "jit", action: "batch-b", details: { z: 1, a: [1, { y: 2, b: 3 }] } },
          { actor: "jit", action: "batch-b" },
        ]),
      ),
    ]);
    const rows = await fixture.db.auditEvent.findMany({ orderBy: { seq: "asc" } });
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 13 }, (_, i) => BigInt(i + 1)));
    const batchA = rows.filter((r) => r.action === "batch-a");
    // A batch is contiguous and keeps its order.
    expect(batchA.map((r) => (r.details as { i: number }).i)).toEqual([0, 1, 2, 3, 4]);
    expect(Number((batchA[4]?.seq ?? 0n) - (batchA[0]?.seq ?? 0n))).toBe(4);
    expect(await verifyAudit(fixture.db)).toMatchObject({ ok: true, events: 13 });
  });

  it("does nothing for an empty batch", async () => {
    await fixture.db.$transaction((tx) => appendAuditMany(tx, []));
    expect(await fixture.db.auditEvent.count()).toBe(0);
    expect(await verifyAudit(fixture.db)).toMatchObject({ ok: true, events: 0 });
  });
});

describe("verifyAudit", () => {
  it("passes on an empty chain and on an intact one, across batch boundaries", async () => {
    expect(await verifyAudit(fixture.db)).toMatchObject({ ok: true, events: 0 });
    await appendMany(12);
    expect(await verifyAudit(fixture.db)).toMatchObject({ ok: true, events: 12 });
    expect(await verifyAudit(fixture.db, { batchSize: 5 })).toMatchObject({ ok: true, events: 12 });
    expect(await verifyAudit(fixture.db, { batchSize: 4 })).toMatchObject({ ok: true, events: 12 });
  });

  it.each([
    ["details", `"details" = '{"i": 999}'::jsonb`],
    ["actor", `"actor" = 'U0MALLORY'`],
    ["action", `"action" = 'request.denied'`],
    ["requestId", `"requestId" = NULL`],
    ["resourceId", `"resourceId" = 'prod-db'`],
    ["at", `"at" = "at" + interval '1 millisecond'`],
  ])("names the first altered event when its %s changes", async (_column, set) => {
    await appendMany(6);
    await fixture.db.$executeRawUnsafe(`UPDATE "AuditEvent" SET ${set} WHERE seq = 3`);
    const result = await verifyAudit(fixture.db);
    expect(result).toMatchObject({
      ok: false,
      events: 2,
      badSeq: 3n,
      problem: "its contents do not match its hash",
    });
  });

  it("names a deleted middle event as missing", async () => {
    await appendMany(6);
    await fixture.db.$executeRawUnsafe(`DELETE FROM "AuditEvent" WHERE seq = 4`);
    expect(await verifyAudit(fixture.db)).toMatchObject({
      ok: false,
      events: 3,
      badSeq: 4n,
      problem: "event 4 is missing",
    });
    // The same when the hole falls on a batch boundary.
    expect(await verifyAudit(fixture.db, { batchSize: 3 })).toMatchObject({
      ok: false,
      events: 3,
      badSeq: 4n,
      problem: "event 4 is missing",
    });
  });

  it("catches removal of the newest events through the head row", async () => {
    await appendMany(5);
    await fixture.db.$executeRawUnsafe(`DELETE FROM "AuditEvent" WHERE seq = 5`);
    expect(await verifyAudit(fixture.db)).toMatchObject({
      ok: false,
      events: 4,
      badSeq: 5n,
      problem: "the chain ends at event 4 but 5 events were written (events removed)",
    });
    await fixture.db.$executeRawUnsafe(`DELETE FROM "AuditEvent"`);
    expect(await verifyAudit(fixture.db)).toMatchObject({ ok: false, events: 0, badSeq: 1n });
  });

  it("catches an event whose hash was recomputed after editing, at the next event's link", async () => {
    await appendMany(5);
    const row = await fixture.db.auditEvent.findUniqueOrThrow({ where: { seq: 3n } });
    const forged = { ...row, details: { i: 3, approvedBy: "U0MALLORY" } };
    const forgedHash = hashEvent(row.prevHash, forged);
    await fixture.db.auditEvent.update({
      where: { seq: 3n },
      data: { details: forged.details, hash: forgedHash },
    });
    expect(await verifyAudit(fixture.db)).toMatchObject({
      ok: false,
      events: 3,
      badSeq: 4n,
      problem: "its previous-hash link is broken",
    });
  });

  it("catches a forged last event even with the head's hash left alone", async () => {
    await appendMany(3);
    const row = await fixture.db.auditEvent.findUniqueOrThrow({ where: { seq: 3n } });
    const forged = { ...row, actor: "U0MALLORY" };
    await fixture.db.auditEvent.update({
      where: { seq: 3n },
      data: { actor: forged.actor, hash: hashEvent(row.prevHash, forged) },
    });
    expect(await verifyAudit(fixture.db)).toMatchObject({
      ok: false,
      events: 2,
      badSeq: 3n,
      problem: "its hash does not match the chain head (the newest event was rewritten)",
    });
  });

  it("is not fooled by jsonb reordering keys (details with many keys and nesting)", async () => {
    const details: Record<string, unknown> = {};
    for (const key of ["zeta", "a", "mmmmmmmm", "bb", "Z", "ä", "k10", "k2", "nested", "list"])
      details[key] = key;
    details.nested = { y: { b: 2, a: 1 }, x: [{ d: 1, c: 2 }], longer_key: true, k: null };
    details.list = [3, 1, 2];
    details.number = 1.5;
    await append({ actor: "U0A", action: "many.keys", details });
    await appendMany(2);
    const [stored] = await fixture.db.$queryRawUnsafe<{ details: Record<string, unknown> }[]>(
      `SELECT details FROM "AuditEvent" WHERE seq = 1`,
    );
    // jsonb really did reorder the keys, so the test exercises what it claims to.
    expect(Object.keys(stored?.details ?? {})).not.toEqual(Object.keys(details));
    expect(stored?.details).toEqual(details);
    expect(await verifyAudit(fixture.db)).toMatchObject({ ok: true, events: 3 });
  });
});

/** A minimal RFC 4180 reader: enough to check that exported CSV round-trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  expect(quoted).toBe(false);
  expect(cell).toBe("");
  return rows;
}

const HEADER = ["seq", "at", "actor", "action", "requestId", "resourceId", "details", "prevHash", "hash"];

describe("exportAudit", () => {
  async function exported(options: { since: Date; format: "json" | "csv"; batchSize?: number }) {
    let out = "";
    const count = await exportAudit(fixture.db, { ...options, write: (chunk) => (out += chunk) });
    return { out, count };
  }

  it("writes JSON lines in seq order, only events since `since`", async () => {
    await appendMany(3);
    await sleep(5);
    const since = new Date();
    await sleep(5);
    const later = await appendMany(4);
    const { out, count } = await exported({ since, format: "json", batchSize: 3 });
    expect(count).toBe(4);
    expect(out.endsWith("\n")).toBe(true);
    const lines = out.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    const objects = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(objects.map((o) => o.seq)).toEqual(["4", "5", "6", "7"]);
    expect(objects[0]).toEqual({
      seq: "4",
      at: later[0]?.at.toISOString(),
      actor: "U0USER1",
      action: "request.created",
      requestId: "R-1",
      resourceId: null,
      details: { i: 1 },
      prevHash: later[0]?.prevHash,
      hash: later[0]?.hash,
    });
    expect(await exported({ since: new Date(Date.now() + 60_000), format: "json" })).toEqual({
      out: "",
      count: 0,
    });
  });

  it("writes CSV with a header and quotes commas, quotes and newlines", async () => {
    const tricky = { note: 'said "hi", then\nleft', plain: "x" };
    await append({ actor: "U0A, the admin", action: "grant.revoked", requestId: "R-1", details: tricky });
    await append({ actor: "U0B", action: "plain" });
    const { out, count } = await exported({ since: new Date(0), format: "csv" });
    expect(count).toBe(2);
    const rows = parseCsv(out);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual(HEADER);
    const first = Object.fromEntries(HEADER.map((column, i) => [column, rows[1]?.[i]]));
    expect(first).toMatchObject({
      seq: "1",
      actor: "U0A, the admin",
      action: "grant.revoked",
      requestId: "R-1",
    });
    expect(first.resourceId).toBe("");
    expect(JSON.parse(first.details ?? "")).toEqual(tricky);
    expect(rows[2]?.slice(0, 4)).toEqual(["2", rows[2]?.[1], "U0B", "plain"]);
    expect(rows[2]?.[6]).toBe("{}");
    // A header-only export when nothing matches.
    expect((await exported({ since: new Date(Date.now() + 60_000), format: "csv" })).out).toBe(
      `${HEADER.join(",")}\n`,
    );
  });
});

describe("jit audit (CLI)", () => {
  it("verifies, exports, then fails naming the tampered event", async () => {
    await appendMany(4, (i) => ({ i, note: i === 2 ? "a, b" : "x" }));
    // Another time zone than the writer's must not change what the hashes cover.
    const env = { DATABASE_URL: fixture.url, TZ: "America/Los_Angeles" };

    const ok = await runCli(["audit", "verify"], env);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const head = await fixture.db.auditHead.findUniqueOrThrow({ where: { id: 1 } });
    expect(ok.stdout).toBe(
      [
        "audit chain OK: 4 event(s) verified",
        "events 1-4: sha256 (unkeyed)",
        `head: 4:${head.hash} (keep a copy outside the database; pass it later as --checkpoint)`,
        "highest checkpoint known: none - pass --checkpoint <seq>:<hash> from a copy held outside the database (removal of the newest events is caught only that way)",
        "",
      ].join("\n"),
    );

    await fixture.db.$executeRawUnsafe(
      `UPDATE "AuditEvent" SET "at" = now() - interval '2 days' WHERE seq = 1`,
    );
    const [csv, json, broken] = await Promise.all([
      runCli(["audit", "export", "--since", "24h", "--format", "csv"], env),
      runCli(["audit", "export", "--since", "7d"], env),
      runCli(["audit", "verify"], env),
    ]);
    expect(csv.code).toBe(0);
    const rows = parseCsv(csv.stdout);
    expect(rows[0]).toEqual(HEADER);
    expect(rows.slice(1).map((r) => r[0])).toEqual(["2", "3", "4"]);
    expect(JSON.parse(rows[1]?.[6] ?? "")).toEqual({ i: 2, note: "a, b" });

    expect(json.code).toBe(0);
    expect(
      json.stdout
        .trimEnd()
        .split("\n")
        .map((line) => (JSON.parse(line) as { seq: string }).seq),
    ).toEqual(["1", "2", "3", "4"]);

    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe(""); // no event verified, so no stretch to describe
    expect(broken.stderr).toBe(
      "jit: audit chain BROKEN at event 1: its contents do not match its hash (0 event(s) before it verified)\n",
    );
  }, 120_000);

  it("rejects a bad --since", async () => {
    const result = await runCli(["audit", "export", "--since", "yesterday"], { DATABASE_URL: fixture.url });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("--since");
  }, 60_000);
});
