import { type AuditScheme, hashEvent } from "./audit-hash.js";
import type { Db, Prisma } from "./db.js";

export { AUDIT_SCHEMES, type AuditScheme, canonicalJson, GENESIS_HASH, hashEvent } from "./audit-hash.js";
export { verifyAudit } from "./audit-verify.js";

/**
 * The tamper-evident audit history. Each event's hash covers the previous event's hash and the
 * event itself, so altering or removing any event breaks every hash after it; the head row catches
 * removal of the newest events unless it is rewound too (only a checkpoint held outside catches
 * that). With JIT_AUDIT_KEY the hash is an HMAC, so someone who can write the database but does not
 * hold the key cannot recompute it. Appends happen inside the caller's transaction, so an event
 * exists exactly when the state change it records was committed.
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
  scheme: AuditScheme;
}

type Tx = Prisma.TransactionClient;

/**
 * The key new events are hashed with: JIT_AUDIT_KEY, set once at start (startJit). It lives here,
 * not in every use-case's arguments, because it is process-wide configuration like the database.
 */
let appendKey: string | undefined;

/**
 * Readies the key for appends and checks it against the chain's newest event: a keyed chain must
 * not go on unkeyed (verify would call that a downgrade) nor under another key. Returns a warning
 * to log when there is no key; throws (naming JIT_AUDIT_KEY) when jit must not start.
 */
export async function prepareAuditKey(db: Db, key: string | undefined): Promise<string | undefined> {
  const newest = await db.auditEvent.findFirst({ orderBy: { seq: "desc" } });
  if (newest?.scheme === "hmac-sha256") {
    if (key === undefined) {
      throw new Error(
        `JIT_AUDIT_KEY: is required: the audit chain is keyed (event ${newest.seq} is); set the key it was written with`,
      );
    }
    if (hashEvent(newest.prevHash, newest, key) !== newest.hash) {
      throw new Error(
        `JIT_AUDIT_KEY: audit event ${newest.seq} does not verify with this key (a different key, or the event was altered; run jit audit verify)`,
      );
    }
  }
  appendKey = key;
  return key === undefined
    ? "JIT_AUDIT_KEY is not set: audit events are hashed without a key, so anyone who can write the database can rewrite the audit chain undetected"
    : undefined;
}

/**
 * An event as stored. `at` has millisecond precision (what TIMESTAMP(3) keeps) and details go
 * through JSON, so the hash can be recomputed from the row exactly.
 */
function toEvent(input: AuditInput, at: Date): Omit<AuditRecord, "seq" | "hash" | "prevHash" | "scheme"> {
  return {
    at,
    actor: input.actor,
    action: input.action,
    requestId: input.requestId ?? null,
    resourceId: input.resourceId ?? null,
    details: JSON.parse(JSON.stringify(input.details ?? {})) as unknown,
  };
}

/** Appends one event inside the caller's transaction; see appendAuditMany. */
export async function appendAudit(tx: Tx, input: AuditInput): Promise<AuditRecord> {
  const [record] = await appendAuditMany(tx, [input]);
  if (!record) throw new Error("appendAuditMany returned no record");
  return record;
}

/**
 * Appends events in order, in two statements whatever their number (a revocation sweep ends many
 * grants at once): lock the head row (which orders concurrent appends), then insert the events and
 * advance the head together. Hashes are computed here, so the key never reaches PostgreSQL (a
 * statement's parameters can end up in its logs). Call it last in a transaction: the head stays
 * locked until commit.
 */
export async function appendAuditMany(tx: Tx, inputs: AuditInput[]): Promise<AuditRecord[]> {
  if (inputs.length === 0) return [];
  const [head] = await tx.$queryRaw<{ seq: bigint; hash: string }[]>`
    SELECT seq, hash FROM "AuditHead" WHERE id = 1 FOR UPDATE`;
  if (!head) throw new Error("audit head row is missing; was the database migrated?");
  const key = appendKey;
  const scheme: AuditScheme = key === undefined ? "sha256" : "hmac-sha256";
  const at = new Date();
  let prevHash = head.hash;
  let seq = head.seq;
  const rows = inputs.map((input) => {
    seq += 1n;
    const event = { ...toEvent(input, at), seq };
    const hash = hashEvent(prevHash, event, key);
    const row = { ...event, prevHash, hash, scheme };
    prevHash = hash;
    return row;
  });
  await tx.$executeRaw`
    WITH inserted AS (
      INSERT INTO "AuditEvent" (seq, at, actor, action, "requestId", "resourceId", details, "prevHash", hash, scheme)
      SELECT s::bigint, a::timestamptz AT TIME ZONE 'UTC', actor, action, rid, res, d::jsonb, ph, h, ${scheme}
      FROM unnest(
        ${rows.map((r) => r.seq.toString())}::text[], ${rows.map((r) => r.at.toISOString())}::text[],
        ${rows.map((r) => r.actor)}::text[], ${rows.map((r) => r.action)}::text[],
        ${rows.map((r) => r.requestId)}::text[], ${rows.map((r) => r.resourceId)}::text[],
        ${rows.map((r) => JSON.stringify(r.details))}::text[], ${rows.map((r) => r.prevHash)}::text[],
        ${rows.map((r) => r.hash)}::text[]
      ) AS t(s, a, actor, action, rid, res, d, ph, h)
    )
    UPDATE "AuditHead" SET seq = ${seq.toString()}::bigint, hash = ${prevHash} WHERE id = 1`;
  return rows;
}
