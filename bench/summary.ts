/**
 * `npm run bench` (after bench/run.ts), or alone: `npm run bench:summary`. A 30-day audit summary
 * over a million audit events: how long the SQL aggregates take (readSummary, the same call that
 * `/jit audit 30d` and `jit audit summary --since 30d` make).
 *
 * The history is written straight into a fresh database with generate_series, spread over 30 days:
 * BENCH_SUMMARY_EVENTS audit events (default 1,000,000; five per request), their requests, a grant
 * for each granted one, and refusal counters. Event hashes are placeholders: the summary never
 * reads them. Then VACUUM ANALYZE (what autovacuum does to an append-only table), one warm-up run,
 * and BENCH_SUMMARY_RUNS timed runs (default 7). The database is dropped at the end.
 *
 * Environment: TEST_DATABASE_ROOT (default postgresql://postgres@127.0.0.1:5432); BENCH_SUMMARY_KEEP=1
 * keeps the database (its name is printed) to look at query plans.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { readSummary } from "../src/store/audit-summary.js";
import { createDb } from "../src/store/db.js";
import { migrate } from "../src/store/migrator.js";
import { round1, summarize } from "./lib/stats.js";

const ROOT = process.env.TEST_DATABASE_ROOT ?? "postgresql://postgres@127.0.0.1:5432";
const EVENTS = Number(process.env.BENCH_SUMMARY_EVENTS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_SUMMARY_RUNS ?? 7);
const PER_REQUEST = 5;
const DAYS = 30;

async function seed(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const requests = Math.ceil(EVENTS / PER_REQUEST);
  const span = DAYS * 86_400 - 3_600;
  try {
    // Request g was filed (g * span / requests) seconds after the window opened; UTC, like Prisma.
    await client.query(
      `INSERT INTO "AccessRequest" (id, "requesterId", "resourceId", "durationSec", reason, status,
         "requiredApprovals", breakglass, "timeoutAt", "createdAt", "updatedAt")
       SELECT 'R-B' || g, 'U0DEV' || (g % 40), 'resource-' || (g % 12), 3600, 'bench',
         (ARRAY['EXPIRED','DENIED','TIMED_OUT','CANCELLED','REVOKED','FAILED','EXPIRED','EXPIRED'])[1 + g % 8]::"RequestStatus",
         1, g % 97 = 0, t + interval '1 hour', t, t
       FROM generate_series(1, $1::int) g,
         LATERAL (SELECT (now() AT TIME ZONE 'UTC') - make_interval(secs => $2::int - (g::bigint * $2::int / $1::int))) AS w(t)`,
      [requests, span],
    );
    // Five events per request, a minute apart, as jit writes them: filed; approved (3 in 4) or
    // denied; granted; expired; the provider's clean-up.
    await client.query(
      `INSERT INTO "AuditEvent" (seq, at, actor, action, "requestId", "resourceId", details, "prevHash", hash)
       SELECT e, r."createdAt" + make_interval(mins => k), 'U0BENCH',
         CASE WHEN ix.g % 4 = 0 AND k > 0 THEN (ARRAY['request.denied','card.updated','card.updated','card.updated'])[k]
              ELSE (ARRAY['request.created','request.approved','request.active','request.expired','grant.cleaned-up'])[1 + k] END,
         r.id, r."resourceId", '{}', '', ''
       FROM generate_series(1, $1::int) e,
         LATERAL (SELECT (e - 1) % ${PER_REQUEST} AS k, 1 + (e - 1) / ${PER_REQUEST} AS g) AS ix,
         LATERAL (SELECT id, "createdAt", "resourceId" FROM "AccessRequest" WHERE id = 'R-B' || ix.g) AS r`,
      [EVENTS],
    );
    await client.query(`UPDATE "AuditHead" SET seq = $1, hash = repeat('0', 64) WHERE id = 1`, [EVENTS]);
    await client.query(
      `INSERT INTO "Grant" (id, "requestId", "resourceId", "grantedAt", "expiresAt", "endedAt", "revokeFailures", "updatedAt")
       SELECT 'G' || substr(id, 2), id, "resourceId", "createdAt" + interval '2 minutes', "createdAt" + interval '62 minutes',
         CASE WHEN status IN ('EXPIRED','REVOKED') THEN "createdAt" + interval '62 minutes' + make_interval(secs => length(id) * 9) END,
         CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END, "createdAt"
       FROM "AccessRequest" WHERE status IN ('EXPIRED','REVOKED','FAILED')`,
    );
    await client.query(
      `INSERT INTO "RefusalCount" (actor, action, subject, reason, count, "firstAt", "lastAt")
       SELECT 'U0DEV' || (g % 40), 'decision.rejected', 'R-B' || g, 'not an approver', 1 + g % 3, "createdAt", "createdAt"
       FROM generate_series(1, $1::int, 50) g JOIN "AccessRequest" ON id = 'R-B' || g`,
      [requests],
    );
    await client.query("VACUUM ANALYZE");
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const name = `jit_bench_summary_${randomBytes(4).toString("hex")}`;
  const url = `${ROOT}/${name}`;
  const admin = new pg.Client({ connectionString: `${ROOT}/postgres` });
  await admin.connect();
  try {
    await migrate(url);
    const seeded = Date.now();
    await seed(url);
    process.stdout.write(
      `summary bench: ${EVENTS.toLocaleString("en-US")} audit events over ${DAYS} days seeded in ${((Date.now() - seeded) / 1000).toFixed(1)} s\n`,
    );
    const db = createDb(url, 2);
    try {
      const window = { from: new Date(Date.now() - DAYS * 86_400_000), to: new Date() };
      const first = await readSummary(db, window);
      const timings: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const started = performance.now();
        await readSummary(db, window);
        timings.push(performance.now() - started);
      }
      const stats = summarize(timings);
      process.stdout.write(
        `30-day summary (readSummary): median ${round1(stats.p50)} ms, max ${round1(stats.max)} ms over ${RUNS} runs ` +
          `(filed ${first.totals.filed.toLocaleString("en-US")}, granted ${first.totals.granted.toLocaleString("en-US")}, ` +
          `denied ${first.totals.denied.toLocaleString("en-US")})\n`,
      );
    } finally {
      await db.$disconnect();
    }
  } finally {
    if (process.env.BENCH_SUMMARY_KEEP) process.stdout.write(`kept database ${name}\n`);
    else await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

await main();
