import { AUDIT_SCHEMES, type AuditScheme, GENESIS_HASH, hashEvent } from "./audit-hash.js";
import type { Db, Prisma } from "./db.js";

/** A chain head noted outside the database (`<seq>:<hash>`); verify fails if the chain moved off it. */
export interface Checkpoint {
  seq: bigint;
  hash: string;
}

/** A run of consecutive events hashed the same way. */
export interface Stretch {
  scheme: AuditScheme;
  from: bigint;
  to: bigint;
}

/** A checkpoint jit posted to the audit channel itself (recorded in AuditSummary). */
export interface RecordedCheckpoint extends Checkpoint {
  channel: string;
  at: Date;
}

export type VerifyResult =
  | {
      ok: true;
      events: number;
      head: Checkpoint;
      stretches: Stretch[];
      /** How many recorded checkpoints were checked, and the highest of them. */
      recorded: { checked: number; highest?: RecordedCheckpoint };
    }
  | { ok: false; events: number; badSeq: bigint; problem: string; stretches: Stretch[] };

export interface VerifyOptions {
  /** JIT_AUDIT_KEY; without it a keyed stretch cannot be checked, and verify fails. */
  key?: string;
  checkpoint?: Checkpoint;
  /** Also check every checkpoint jit recorded when it posted one (see AuditSummary). */
  recorded?: boolean;
  batchSize?: number;
}

/** Reads `<seq>:<hash>`; returns an error message for anything else. */
export function parseCheckpoint(text: string): Checkpoint | string {
  const match = /^([1-9][0-9]*):([0-9a-fA-F]{64})$/.exec(text.trim());
  if (!match?.[1] || !match[2]) {
    return `must be <seq>:<hash>, the event number and its 64-hex-digit hash as verify prints them (e.g. 42:${"ab".repeat(32)}), not "${text}"`;
  }
  return { seq: BigInt(match[1]), hash: match[2].toLowerCase() };
}

// Long enough for a very large table; the transaction only reads.
const VERIFY_TIMEOUT_MS = 60 * 60_000;

/**
 * Walks the whole chain in order and names the first event that does not check out. Events and
 * head are read in one REPEATABLE READ snapshot, so appends running meanwhile are simply not seen
 * (read separately, an append in between looks like removed events); events come in batches, so a
 * big table is never loaded at once.
 */
export function verifyAudit(db: Db, options: VerifyOptions = {}): Promise<VerifyResult> {
  return db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SET TRANSACTION READ ONLY`;
      return walkChain(tx, options);
    },
    { isolationLevel: "RepeatableRead", timeout: VERIFY_TIMEOUT_MS },
  );
}

/** Every chain head the chain must still hash to, by sequence number, with how to name it. */
async function expectedHeads(
  tx: Prisma.TransactionClient,
  options: VerifyOptions,
): Promise<{ heads: Map<bigint, { hash: string; name: string }>; recorded: RecordedCheckpoint[] }> {
  const heads = new Map<bigint, { hash: string; name: string }>();
  const rows = options.recorded
    ? await tx.auditSummary.findMany({
        where: { checkpointSeq: { gt: 0 } },
        orderBy: { checkpointSeq: "asc" },
      })
    : [];
  const recorded = rows.map((r) => ({
    seq: r.checkpointSeq,
    hash: r.checkpointHash,
    channel: r.channel,
    at: r.postedAt ?? r.createdAt,
  }));
  for (const r of recorded) {
    heads.set(r.seq, {
      hash: r.hash,
      name: `the checkpoint jit posted to ${r.channel} at ${r.at.toISOString()} (${formatCheckpoint(r)})`,
    });
  }
  // The one given on the command line is checked too, and named as such when both exist.
  if (options.checkpoint) {
    heads.set(options.checkpoint.seq, {
      hash: options.checkpoint.hash,
      name: `the checkpoint's (${formatCheckpoint(options.checkpoint)})`,
    });
  }
  return { heads, recorded };
}

async function walkChain(tx: Prisma.TransactionClient, options: VerifyOptions): Promise<VerifyResult> {
  const batchSize = options.batchSize ?? 2000;
  const { heads, recorded } = await expectedHeads(tx, options);
  const stretches: Stretch[] = [];
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1n;
  let count = 0;
  /** The first keyed event met without a key: everything else is still checked, then verify fails. */
  let uncheckedFrom: bigint | undefined;
  const broken = (badSeq: bigint, problem: string): VerifyResult => ({
    ok: false,
    events: count,
    badSeq,
    problem,
    stretches,
  });
  for (;;) {
    const batch = await tx.auditEvent.findMany({
      where: { seq: { gte: expectedSeq } },
      orderBy: { seq: "asc" },
      take: batchSize,
    });
    for (const event of batch) {
      if (event.seq !== expectedSeq) return broken(expectedSeq, `event ${expectedSeq} is missing`);
      if (event.prevHash !== prevHash) return broken(event.seq, "its previous-hash link is broken");
      if (!AUDIT_SCHEMES.includes(event.scheme)) {
        return broken(event.seq, `its hash scheme "${event.scheme}" is unknown`);
      }
      const scheme = event.scheme as AuditScheme;
      const last = stretches.at(-1);
      if (last?.scheme === "hmac-sha256" && scheme === "sha256") {
        // Once the chain is keyed it stays keyed: otherwise keyed events could be rewritten as
        // unkeyed ones, which anyone can recompute.
        return broken(event.seq, "it is unkeyed (sha256) but follows keyed events (a downgraded event)");
      }
      if (scheme === "hmac-sha256" && options.key === undefined) {
        uncheckedFrom ??= event.seq;
      } else if (hashEvent(prevHash, event, scheme === "sha256" ? undefined : options.key) !== event.hash) {
        return broken(
          event.seq,
          scheme === "sha256"
            ? "its contents do not match its hash"
            : "its contents do not match its keyed hash (a different JIT_AUDIT_KEY, or the event was altered)",
        );
      }
      const expected = heads.get(event.seq);
      if (expected && expected.hash !== event.hash) {
        return broken(event.seq, `its hash is not ${expected.name}`);
      }
      if (last?.scheme === scheme) last.to = event.seq;
      else stretches.push({ scheme, from: event.seq, to: event.seq });
      prevHash = event.hash;
      expectedSeq++;
      count++;
    }
    if (batch.length < batchSize) break;
  }
  const lastSeq = expectedSeq - 1n;
  const head = await tx.auditHead.findUnique({ where: { id: 1 } });
  if (!head) return broken(expectedSeq, "the chain head is missing");
  if (head.seq === lastSeq && head.hash !== prevHash && count > 0) {
    // Every event links up, but the newest one was rewritten (hash recomputed) after it was appended.
    count--;
    return broken(head.seq, "its hash does not match the chain head (the newest event was rewritten)");
  }
  if (head.seq !== lastSeq || head.hash !== prevHash) {
    return broken(
      expectedSeq,
      `the chain ends at event ${lastSeq} but ${head.seq} events were written (events removed)`,
    );
  }
  const beyond = [...heads].find(([seq]) => seq > lastSeq);
  if (beyond) {
    const [seq, { name }] = beyond;
    const which = name.startsWith("the checkpoint's") ? "the checkpoint" : name;
    return broken(
      expectedSeq,
      `the chain ends at event ${lastSeq} but ${which} names event ${seq} (events removed)`,
    );
  }
  if (uncheckedFrom !== undefined) {
    count = Number(uncheckedFrom - 1n);
    return broken(
      uncheckedFrom,
      "it starts a keyed stretch (hmac-sha256) and JIT_AUDIT_KEY is not set, so it and the keyed events after it cannot be checked",
    );
  }
  return {
    ok: true,
    events: count,
    head: { seq: lastSeq, hash: prevHash },
    stretches,
    recorded: { checked: recorded.length, highest: recorded.at(-1) },
  };
}

export function formatCheckpoint(checkpoint: Checkpoint): string {
  return `${checkpoint.seq}:${checkpoint.hash}`;
}
