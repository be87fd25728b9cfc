import type { Checkpoint } from "./audit-verify.js";
import type { Db, Prisma } from "./db.js";

/**
 * The numbers of an audit summary, read with a handful of aggregates in one read-only snapshot, so
 * the counts and the chain head they are shown with describe the same moment. Every query walks an
 * index range of the window (see the indexes commented "Audit summaries" in schema.prisma): the
 * cost grows with what happened in the window, not with the size of the history.
 */
export interface SummaryWindow {
  from: Date;
  to: Date;
}

/** What happened to requests, by the audit action that records it. */
export const OUTCOME_ACTIONS = {
  granted: "request.active",
  denied: "request.denied",
  timedOut: "request.timed_out",
  cancelled: "request.cancelled",
  failed: "request.failed",
} as const;
export type Outcome = keyof typeof OUTCOME_ACTIONS;
export const OUTCOMES = Object.keys(OUTCOME_ACTIONS) as Outcome[];

export type OutcomeCounts = Record<Outcome, number>;

export interface ResourceCounts extends OutcomeCounts {
  resourceId: string;
  filed: number;
  breakglass: number;
}

export interface SummaryData {
  window: SummaryWindow;
  totals: OutcomeCounts & { filed: number; breakglass: number };
  /** Busiest first. */
  resources: ResourceCounts[];
  /** Most requests filed first (at most 5). */
  requesters: { userId: string; filed: number }[];
  /** From filing to the deciding vote, over requests decided in the window (break-glass excluded). */
  medianDecisionSec: number | null;
  activeGrants: number;
  revocations: { done: number; late: number; failing: number };
  /** Repeats of refused actions counted in RefusalCount rows touched in the window. */
  refusals: number;
  /** Request ids worth a look, newest first (at most 10 each). */
  attention: { breakglass: string[]; failed: string[]; failing: string[] };
  /** Outcomes per time bucket, for the chart; `bucketSec` wide, starting at `window.from`. */
  series: { bucket: number; outcome: Outcome; count: number }[];
  bucketSec: number;
  /** The chain head when the summary was composed. */
  checkpoint: Checkpoint;
}

/** A revocation this long after the expiry is late. */
export const LATE_REVOCATION_SEC = 60;

/** Chart buckets: hours for a day, 6 hours for a week, days beyond. */
export function bucketSecondsFor(window: SummaryWindow): number {
  const span = (window.to.getTime() - window.from.getTime()) / 1000;
  if (span <= 2 * 86_400) return 3_600;
  if (span <= 8 * 86_400) return 6 * 3_600;
  return 86_400;
}

type Tx = Prisma.TransactionClient;

export function readSummary(db: Db, window: SummaryWindow): Promise<SummaryData> {
  return db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SET TRANSACTION READ ONLY`;
      return readInSnapshot(tx, window);
    },
    { isolationLevel: "RepeatableRead", timeout: 60_000 },
  );
}

async function readInSnapshot(tx: Tx, window: SummaryWindow): Promise<SummaryData> {
  // Columns are timestamp(3) holding UTC (as Prisma writes them): compare in UTC.
  const from = window.from.toISOString();
  const to = window.to.toISOString();
  const bucketSec = bucketSecondsFor(window);
  const actions = Object.values(OUTCOME_ACTIONS);

  const outcomeRows = await tx.$queryRaw<
    { bucket: number; action: string; resourceId: string | null; n: bigint }[]
  >`
    SELECT floor(extract(epoch FROM at - (${from}::timestamptz AT TIME ZONE 'UTC')) / ${bucketSec})::int AS bucket,
           action, "resourceId", count(*) AS n
    FROM "AuditEvent"
    WHERE action = ANY(${actions}) AND at >= (${from}::timestamptz AT TIME ZONE 'UTC')
      AND at < (${to}::timestamptz AT TIME ZONE 'UTC')
    GROUP BY 1, 2, 3`;
  const filedRows = await tx.$queryRaw<{ resourceId: string; n: bigint; breakglass: bigint }[]>`
    SELECT "resourceId", count(*) AS n, count(*) FILTER (WHERE breakglass) AS breakglass
    FROM "AccessRequest"
    WHERE "createdAt" >= (${from}::timestamptz AT TIME ZONE 'UTC') AND "createdAt" < (${to}::timestamptz AT TIME ZONE 'UTC')
    GROUP BY 1`;
  const requesters = await tx.$queryRaw<{ userId: string; n: bigint }[]>`
    SELECT "requesterId" AS "userId", count(*) AS n
    FROM "AccessRequest"
    WHERE "createdAt" >= (${from}::timestamptz AT TIME ZONE 'UTC') AND "createdAt" < (${to}::timestamptz AT TIME ZONE 'UTC')
    GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5`;
  const [median] = await tx.$queryRaw<{ sec: number | null }[]>`
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - r."createdAt"))::float8 AS sec
    FROM "AuditEvent" e JOIN "AccessRequest" r ON r.id = e."requestId"
    WHERE e.action IN ('request.approved', 'request.denied') AND NOT r.breakglass
      AND e.at >= (${from}::timestamptz AT TIME ZONE 'UTC') AND e.at < (${to}::timestamptz AT TIME ZONE 'UTC')`;
  const [grants] = await tx.$queryRaw<{ active: bigint; done: bigint; late: bigint; failing: bigint }[]>`
    SELECT
      (SELECT count(*) FROM "AccessRequest" WHERE status = 'ACTIVE') AS active,
      count(*) FILTER (WHERE g."endedAt" IS NOT NULL) AS done,
      count(*) FILTER (WHERE g."endedAt" > g."expiresAt" + make_interval(secs => ${LATE_REVOCATION_SEC})) AS late,
      (SELECT count(*) FROM "Grant" WHERE "endedAt" IS NULL AND "revokeFailures" > 0) AS failing
    FROM "Grant" g
    WHERE g."grantedAt" IS NOT NULL
      AND g."endedAt" >= (${from}::timestamptz AT TIME ZONE 'UTC') AND g."endedAt" < (${to}::timestamptz AT TIME ZONE 'UTC')`;
  const [refused] = await tx.$queryRaw<{ n: bigint | null }[]>`
    SELECT sum(count)::bigint AS n FROM "RefusalCount"
    WHERE "lastAt" >= (${from}::timestamptz AT TIME ZONE 'UTC') AND "firstAt" < (${to}::timestamptz AT TIME ZONE 'UTC')`;
  const attention = await readAttention(tx, from, to);
  const head = await tx.auditHead.findUnique({ where: { id: 1 } });
  if (!head) throw new Error("audit head row is missing; was the database migrated?");
  return assemble({
    window,
    bucketSec,
    outcomeRows,
    filedRows,
    requesters: requesters.map((r) => ({ userId: r.userId, filed: Number(r.n) })),
    medianDecisionSec: median?.sec ?? null,
    activeGrants: Number(grants?.active ?? 0),
    revocations: {
      done: Number(grants?.done ?? 0),
      late: Number(grants?.late ?? 0),
      failing: Number(grants?.failing ?? 0),
    },
    refusals: Number(refused?.n ?? 0),
    attention,
    checkpoint: { seq: head.seq, hash: head.hash },
  });
}

async function readAttention(tx: Tx, from: string, to: string): Promise<SummaryData["attention"]> {
  const ids = (rows: { id: string }[]) => rows.map((r) => r.id);
  const breakglass = await tx.$queryRaw<{ id: string }[]>`
    SELECT id FROM "AccessRequest"
    WHERE breakglass AND "createdAt" >= (${from}::timestamptz AT TIME ZONE 'UTC') AND "createdAt" < (${to}::timestamptz AT TIME ZONE 'UTC')
    ORDER BY "createdAt" DESC LIMIT 10`;
  const failed = await tx.$queryRaw<{ id: string }[]>`
    SELECT "requestId" AS id FROM "AuditEvent"
    WHERE action = 'request.failed' AND at >= (${from}::timestamptz AT TIME ZONE 'UTC') AND at < (${to}::timestamptz AT TIME ZONE 'UTC')
    ORDER BY at DESC LIMIT 10`;
  const failing = await tx.$queryRaw<{ id: string }[]>`
    SELECT "requestId" AS id FROM "Grant" WHERE "endedAt" IS NULL AND "revokeFailures" > 0
    ORDER BY "expiresAt" LIMIT 10`;
  return { breakglass: ids(breakglass), failed: ids(failed), failing: ids(failing) };
}

const zeroOutcomes = (): OutcomeCounts => ({ granted: 0, denied: 0, timedOut: 0, cancelled: 0, failed: 0 });
const OUTCOME_OF = Object.fromEntries(
  Object.entries(OUTCOME_ACTIONS).map(([outcome, action]) => [action, outcome as Outcome]),
);

function assemble(
  parts: Omit<SummaryData, "totals" | "resources" | "series"> & {
    outcomeRows: { bucket: number; action: string; resourceId: string | null; n: bigint }[];
    filedRows: { resourceId: string; n: bigint; breakglass: bigint }[];
  },
): SummaryData {
  const { outcomeRows, filedRows, ...rest } = parts;
  const totals = { ...zeroOutcomes(), filed: 0, breakglass: 0 };
  const byResource = new Map<string, ResourceCounts>();
  const resource = (id: string) => {
    let counts = byResource.get(id);
    if (!counts) {
      counts = { resourceId: id, filed: 0, breakglass: 0, ...zeroOutcomes() };
      byResource.set(id, counts);
    }
    return counts;
  };
  const series = new Map<string, { bucket: number; outcome: Outcome; count: number }>();
  for (const row of outcomeRows) {
    const outcome = OUTCOME_OF[row.action];
    if (!outcome) continue;
    const n = Number(row.n);
    totals[outcome] += n;
    resource(row.resourceId ?? "(none)")[outcome] += n;
    const key = `${row.bucket}:${outcome}`;
    const point = series.get(key) ?? { bucket: row.bucket, outcome, count: 0 };
    point.count += n;
    series.set(key, point);
  }
  for (const row of filedRows) {
    const counts = resource(row.resourceId);
    counts.filed += Number(row.n);
    counts.breakglass += Number(row.breakglass);
    totals.filed += Number(row.n);
    totals.breakglass += Number(row.breakglass);
  }
  const resources = [...byResource.values()].sort(
    (a, b) => b.filed - a.filed || b.granted - a.granted || a.resourceId.localeCompare(b.resourceId),
  );
  const points = [...series.values()].sort(
    (a, b) => a.bucket - b.bucket || a.outcome.localeCompare(b.outcome),
  );
  return { ...rest, totals, resources, series: points };
}
