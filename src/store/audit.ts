import { createHash } from "node:crypto";
import type { Db, Prisma } from "./db.js";

/**
 * The tamper-evident audit history. Each event's hash covers the previous event's hash and the
 * event itself, so altering or removing any event breaks every hash after it; the head row catches
 * removal of the newest events. Appends happen inside the caller's transaction, so an event exists
 * exactly when the state change it records was committed.
 */
export interface AuditInput {
  actor: string;
  action: string;
  requestId?: string | null;
  resourceId?: string | null;
  /** Never put a secret here. */
  details?: Record<string, unknown>;
}

export interface AuditRecord {
  seq: bigint;
  at: Date;
  actor: string;
  action: string;
  requestId: string | null;
  resourceId: string | null;
  details: unknown;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = "0".repeat(64);

type Tx = Prisma.TransactionClient;

/** JSON with sorted keys, so PostgreSQL's jsonb key reordering cannot change a hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The part of an event its hash covers, besides the previous hash and the sequence number. */
function eventBody(event: Omit<AuditRecord, "hash" | "prevHash" | "seq">): string {
  return canonicalJson([
    event.at.toISOString(),
    event.actor,
    event.action,
    event.requestId,
    event.resourceId,
    event.details,
  ]);
}

/** sha256(prevHash + "\n" + seq + "\n" + body). PostgreSQL computes the same in appendAudit. */
export function hashEvent(prevHash: string, event: Omit<AuditRecord, "hash" | "prevHash">): string {
  return createHash("sha256")
    .update(`${prevHash}\n${event.seq.toString()}\n${eventBody(event)}`)
    .digest("hex");
}

/**
 * An event as stored. `at` has millisecond precision (what TIMESTAMP(3) keeps) and details go
 * through JSON, so the hash can be recomputed from the row exactly.
 */
function toEvent(input: AuditInput, at: Date): Omit<AuditRecord, "hash" | "prevHash" | "seq"> {
  return {
    at,
    actor: input.actor,
    action: input.action,
    requestId: input.requestId ?? null,
    resourceId: input.resourceId ?? null,
    details: JSON.parse(JSON.stringify(input.details ?? {})) as unknown,
  };
}

/**
 * Appends one event inside the caller's transaction, in one statement: it advances and locks the
 * head row (ordering concurrent appends), hashes, and inserts. Call it last in a transaction: the
 * head stays locked until commit.
 */
export async function appendAudit(tx: Tx, input: AuditInput): Promise<AuditRecord> {
  const at = new Date();
  const event = toEvent(input, at);
  const body = eventBody(event);
  const [row] = await tx.$queryRaw<{ seq: bigint; prevHash: string; hash: string }[]>`
    WITH old AS (SELECT seq, hash FROM "AuditHead" WHERE id = 1 FOR UPDATE),
    next AS (
      UPDATE "AuditHead" AS h
      SET seq = old.seq + 1,
          hash = encode(sha256(convert_to(old.hash || E'\n' || (old.seq + 1)::text || E'\n' || ${body}, 'UTF8')), 'hex')
      FROM old WHERE h.id = 1
      RETURNING h.seq, h.hash, old.hash AS prev
    )
    INSERT INTO "AuditEvent" (seq, at, actor, action, "requestId", "resourceId", details, "prevHash", hash)
    SELECT next.seq, (${at.toISOString()}::timestamptz AT TIME ZONE 'UTC'), ${event.actor}, ${event.action},
           ${event.requestId}, ${event.resourceId}, ${JSON.stringify(event.details)}::jsonb, next.prev, next.hash
    FROM next
    RETURNING seq, "prevHash", hash`;
  if (!row) throw new Error("audit head row is missing; was the database migrated?");
  return { ...event, seq: row.seq, prevHash: row.prevHash, hash: row.hash };
}

export type VerifyResult =
  | { ok: true; events: number }
  | { ok: false; events: number; badSeq: bigint; problem: string };

/** Walks the whole chain in order; names the first event that does not check out. */
export async function verifyAudit(db: Db, batchSize = 2000): Promise<VerifyResult> {
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1n;
  let count = 0;
  for (;;) {
    const batch = await db.auditEvent.findMany({
      where: { seq: { gte: expectedSeq } },
      orderBy: { seq: "asc" },
      take: batchSize,
    });
    for (const event of batch) {
      if (event.seq !== expectedSeq) {
        return { ok: false, events: count, badSeq: expectedSeq, problem: `event ${expectedSeq} is missing` };
      }
      if (event.prevHash !== prevHash) {
        return { ok: false, events: count, badSeq: event.seq, problem: "its previous-hash link is broken" };
      }
      if (hashEvent(prevHash, event) !== event.hash) {
        return { ok: false, events: count, badSeq: event.seq, problem: "its contents do not match its hash" };
      }
      prevHash = event.hash;
      expectedSeq++;
      count++;
    }
    if (batch.length < batchSize) break;
  }
  const head = await db.auditHead.findUnique({ where: { id: 1 } });
  if (!head) return { ok: false, events: count, badSeq: expectedSeq, problem: "the chain head is missing" };
  if (head.seq === expectedSeq - 1n && head.hash !== prevHash && count > 0) {
    // Every event links up, but the newest one was rewritten (hash recomputed) after it was appended.
    return {
      ok: false,
      events: count - 1,
      badSeq: head.seq,
      problem: "its hash does not match the chain head (the newest event was rewritten)",
    };
  }
  if (head.seq !== expectedSeq - 1n || head.hash !== prevHash) {
    return {
      ok: false,
      events: count,
      badSeq: expectedSeq,
      problem: `the chain ends at event ${expectedSeq - 1n} but ${head.seq} events were written (events removed)`,
    };
  }
  return { ok: true, events: count };
}

/**
 * Appends several events in order, in three statements whatever their number (a revocation sweep
 * ends many grants at once). Same chain and hashes as appendAudit, computed here instead of in SQL.
 */
export async function appendAuditMany(tx: Tx, inputs: AuditInput[]): Promise<void> {
  if (inputs.length === 0) return;
  const [head] = await tx.$queryRaw<{ seq: bigint; hash: string }[]>`
    SELECT seq, hash FROM "AuditHead" WHERE id = 1 FOR UPDATE`;
  if (!head) throw new Error("audit head row is missing; was the database migrated?");
  const at = new Date();
  let prevHash = head.hash;
  let seq = head.seq;
  const rows = inputs.map((input) => {
    seq += 1n;
    const event = { ...toEvent(input, at), seq };
    const hash = hashEvent(prevHash, event);
    const row = { ...event, prevHash, hash };
    prevHash = hash;
    return row;
  });
  await tx.$executeRaw`
    INSERT INTO "AuditEvent" (seq, at, actor, action, "requestId", "resourceId", details, "prevHash", hash)
    SELECT s::bigint, a::timestamptz AT TIME ZONE 'UTC', actor, action, rid, res, d::jsonb, ph, h
    FROM unnest(
      ${rows.map((r) => r.seq.toString())}::text[], ${rows.map((r) => r.at.toISOString())}::text[],
      ${rows.map((r) => r.actor)}::text[], ${rows.map((r) => r.action)}::text[],
      ${rows.map((r) => r.requestId)}::text[], ${rows.map((r) => r.resourceId)}::text[],
      ${rows.map((r) => JSON.stringify(r.details))}::text[], ${rows.map((r) => r.prevHash)}::text[],
      ${rows.map((r) => r.hash)}::text[]
    ) AS t(s, a, actor, action, rid, res, d, ph, h)`;
  await tx.$executeRaw`UPDATE "AuditHead" SET seq = ${seq.toString()}::bigint, hash = ${prevHash} WHERE id = 1`;
}
