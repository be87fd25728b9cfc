import { UnrecoverableError } from "bullmq";
import fc from "fast-check";
import { expect } from "vitest";
import { decide } from "../../src/app/decide.js";
import type { Deps } from "../../src/app/deps.js";
import { runGrant } from "../../src/app/grant.js";
import { reconcile } from "../../src/app/reconcile.js";
import { requestAccess } from "../../src/app/request-access.js";
import { runRevoke } from "../../src/app/revoke.js";
import { runTimeout } from "../../src/app/timeout.js";
import { cancelRequest, revokeEarly } from "../../src/app/withdraw.js";
import { grantIdFor } from "../../src/domain/ids.js";
import { isFinal, type RequestStatus, TRANSITIONS } from "../../src/domain/lifecycle.js";
import { ProviderError } from "../../src/providers/types.js";
import { verifyAudit } from "../../src/store/audit.js";
import { waitFor } from "../support/wait.js";
import type { WebhookReceiver } from "../support/webhook-receiver.js";

/**
 * The model behind the lifecycle properties: what a run files, the commands it may interleave, how
 * it runs them against the real use-cases, how it quiesces, and the invariants checked after each
 * step and at the end. Policy: test/support/policies.ts `policyWith` (deploy-hook needs one of
 * U0LEAD1, U0LEAD2, U0SRE1 via S0SRE; two-keys needs U0LEAD1 and U0LEAD2; admin U0ADMIN).
 *
 * Time: the database clock cannot be faked. Grants last 1–3 s and the schedule sometimes sleeps,
 * so real expiries happen; on top of that the `expire` step moves a started grant's expiresAt into
 * the past with a direct UPDATE, and the `timeout` step does the same to a pending request's
 * timeoutAt. Both are exactly what the passing of time would do to those rows.
 */

export const APPROVERS = ["U0LEAD1", "U0LEAD2", "U0SRE1"] as const; // U0SRE1 through the S0SRE group
export const ADMIN = "U0ADMIN";
export const STRANGER = "U0MALLORY";
const REQUIRED: Record<string, number> = { "deploy-hook": 1, "two-keys": 2 };
const TWO_KEYS_APPROVERS = ["U0LEAD1", "U0LEAD2"];

/** What a run works against. With `workers`, jit's own BullMQ workers run the enqueued jobs too. */
export interface World {
  deps: Deps;
  receiver: WebhookReceiver;
  workers: boolean;
}

// ---------------------------------------------------------------------------------------------
// The model: requests to file, then commands.

type Clicker = "requester" | "stranger" | (typeof APPROVERS)[number];
export type Command =
  | { kind: "decide"; req: number; who: Clicker; outcome: "APPROVE" | "DENY" }
  | { kind: "cancel"; req: number; who: "requester" | "stranger" }
  | { kind: "revokeEarly"; req: number; who: "requester" | "admin" | "stranger" }
  | { kind: "grant"; req: number; copies: 1 | 2; isLast: boolean }
  | { kind: "revoke"; req: number; copies: 1 | 2 }
  | { kind: "timeout"; req: number; overdue: boolean }
  | { kind: "expire"; req: number }
  | { kind: "reconcile" }
  | { kind: "sleep"; ms: number }
  | { kind: "provider"; mode: "ok" | "down" }
  | { kind: "pair"; a: Command; b: Command };

export interface Filing {
  requesterId: string;
  resourceId: "deploy-hook" | "two-keys";
  durationSec: number;
}

const req = fc.nat({ max: 2 });
const filing: fc.Arbitrary<Filing> = fc.record({
  requesterId: fc.constantFrom("U0ALICE", "U0BOB", "U0LEAD1"),
  resourceId: fc.constantFrom("deploy-hook" as const, "deploy-hook" as const, "two-keys" as const),
  durationSec: fc.integer({ min: 1, max: 3 }),
});

const single: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant("decide" as const),
      req,
      who: fc.constantFrom<Clicker>(
        "U0LEAD1",
        "U0LEAD2",
        "U0SRE1",
        "U0LEAD1",
        "U0LEAD2",
        "requester",
        "stranger",
      ),
      outcome: fc.oneof(
        { weight: 6, arbitrary: fc.constant("APPROVE" as const) },
        { weight: 1, arbitrary: fc.constant("DENY" as const) },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("cancel" as const),
      req,
      who: fc.constantFrom("requester" as const, "stranger" as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("revokeEarly" as const),
      req,
      who: fc.constantFrom("requester" as const, "admin" as const, "stranger" as const),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("grant" as const),
      req,
      copies: fc.constantFrom(1 as const, 2 as const),
      isLast: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("revoke" as const),
      req,
      copies: fc.constantFrom(1 as const, 2 as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("timeout" as const),
      req,
      overdue: fc.oneof(
        { weight: 1, arbitrary: fc.constant(true) },
        { weight: 2, arbitrary: fc.constant(false) },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("expire" as const), req }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reconcile" as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("sleep" as const), ms: fc.integer({ min: 50, max: 1_100 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("provider" as const),
      mode: fc.constantFrom("ok" as const, "down" as const),
    }),
  },
);

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: single },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("pair" as const),
      a: single.filter((c) => c.kind !== "sleep"),
      b: single.filter((c) => c.kind !== "sleep"),
    }),
  },
);

export const scenario = fc.record({
  // One pending request per person and resource: a second one would be answered with the first's id.
  filings: fc.uniqueArray(filing, {
    minLength: 1,
    maxLength: 3,
    selector: (f) => `${f.requesterId}:${f.resourceId}`,
  }),
  commands: fc.array(command, { minLength: 4, maxLength: 30, size: "max" }),
});

// ---------------------------------------------------------------------------------------------
// Running a schedule.

export interface Filed extends Filing {
  id: string;
  grantId: string;
}

/** Errors a step may legitimately end with: the provider is down (transient or given up). */
function expected(error: unknown): boolean {
  return error instanceof ProviderError || error instanceof UnrecoverableError;
}

export async function runCommand(w: World, c: Command, filed: Filed[], unexpected: unknown[]): Promise<void> {
  const guard = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (error) {
      if (!expected(error)) unexpected.push(error);
    }
  };
  if (c.kind === "pair") {
    await Promise.all([runCommand(w, c.a, filed, unexpected), runCommand(w, c.b, filed, unexpected)]);
    return;
  }
  if (c.kind === "reconcile") return guard(() => reconcile(w.deps));
  if (c.kind === "sleep") return void (await new Promise((resolve) => setTimeout(resolve, c.ms)));
  if (c.kind === "provider") return w.receiver.setMode(c.mode);
  const r = filed[c.req % filed.length] as Filed;
  switch (c.kind) {
    case "decide": {
      const approverId = c.who === "requester" ? r.requesterId : c.who === "stranger" ? STRANGER : c.who;
      return guard(() => decide(w.deps, { requestId: r.id, approverId, outcome: c.outcome }));
    }
    case "cancel":
      return guard(() => cancelRequest(w.deps, c.who === "requester" ? r.requesterId : STRANGER, r.id));
    case "revokeEarly": {
      const userId = c.who === "requester" ? r.requesterId : c.who === "admin" ? ADMIN : STRANGER;
      return guard(() => revokeEarly(w.deps, userId, r.id, "property test"));
    }
    case "grant":
      // A redelivered grant job, possibly two deliveries at once (a stalled job picked up twice).
      await Promise.all(
        Array.from({ length: c.copies }, () =>
          guard(() => runGrant(w.deps, r.grantId, { isLast: c.isLast })),
        ),
      );
      return;
    case "revoke":
      await Promise.all(Array.from({ length: c.copies }, () => guard(() => runRevoke(w.deps, r.grantId))));
      return;
    case "timeout":
      if (c.overdue) {
        // Time passes for the request: its decision window closes.
        await w.deps.db.accessRequest.updateMany({
          where: { id: r.id, status: "PENDING" },
          data: { timeoutAt: new Date(Date.now() - 1_000) },
        });
      }
      return guard(() => runTimeout(w.deps, r.id));
    case "expire":
      // Time passes for a started grant: its expiry is now behind us (the revoke job must end it).
      await w.deps.db.grant.updateMany({
        where: { id: r.grantId, endedAt: null, expiresAt: { not: null } },
        data: { expiresAt: new Date(Date.now() - 1_000) },
      });
      return;
  }
}

/** Does what the workers and the passing of time would: ends everything that is still open. */
export async function quiesce(w: World, filed: Filed[], unexpected: unknown[]): Promise<void> {
  w.receiver.setMode("ok");
  const ids = filed.map((f) => f.id);
  try {
    await reconcile(w.deps);
  } catch (error) {
    unexpected.push(error);
  }
  for (let round = 0; round < 10; round++) {
    const open = await w.deps.db.accessRequest.findMany({
      where: { id: { in: ids }, OR: [{ status: "PENDING" }, { grant: { endedAt: null } }] },
      include: { grant: true },
    });
    if (open.length === 0) return;
    for (const r of open) {
      try {
        if (r.status === "PENDING") {
          await w.deps.db.accessRequest.update({
            where: { id: r.id },
            data: { timeoutAt: new Date(Date.now() - 1) },
          });
          await runTimeout(w.deps, r.id);
          continue;
        }
        const grant = r.grant;
        if (!grant) continue;
        // The grant job would run eventually (enqueued at approval, or re-enqueued by the reconciler).
        if (r.status === "APPROVED" && !grant.expiresAt)
          await runGrant(w.deps, grant.id, { isLast: false }).catch(() => undefined);
        await w.deps.db.grant.updateMany({
          where: { id: grant.id, endedAt: null, expiresAt: { not: null } },
          data: { expiresAt: new Date(Date.now() - 1) },
        });
        await runRevoke(w.deps, grant.id);
      } catch (error) {
        unexpected.push(error);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Invariants.

const STATUS_BY_ACTION = new Map<string, RequestStatus>(
  Object.values(TRANSITIONS).map((t) => [`request.${t.to.toLowerCase()}`, t.to]),
);

function isTransition(from: RequestStatus, to: RequestStatus): boolean {
  return Object.values(TRANSITIONS).some(
    (t: { from: readonly RequestStatus[]; to: RequestStatus }) => t.to === to && t.from.includes(from),
  );
}

/** Checked after every step: ended access is gone at the provider; DB-active access exists there. */
export async function checkStep(w: World, filed: Filed[], after: string): Promise<void> {
  const rows = await w.deps.db.accessRequest.findMany({
    where: { id: { in: filed.map((f) => f.id) } },
    include: { grant: true },
  });
  for (const r of rows) {
    const grantId = grantIdFor(r.id);
    if (isFinal(r.status as RequestStatus) || r.grant?.endedAt) {
      expect(
        w.receiver.active.has(grantId),
        `${grantId} still active at the provider with ${r.id} ${r.status} (${after})`,
      ).toBe(false);
    }
    // Without workers nothing is in flight between steps; with them a revocation may sit between
    // the provider's answer and its commit.
    if (r.status === "ACTIVE" && !w.workers) {
      expect(w.receiver.active.has(grantId), `${r.id} ACTIVE but the provider has no grant (${after})`).toBe(
        true,
      );
    }
  }
}

export async function checkFinal(w: World, filed: Filed[]): Promise<void> {
  const ids = filed.map((f) => f.id);
  const rows = await w.deps.db.accessRequest.findMany({
    where: { id: { in: ids } },
    include: { grant: true, decisions: true },
  });
  const audit = await w.deps.db.auditEvent.findMany({
    where: { requestId: { in: ids } },
    orderBy: { seq: "asc" },
  });
  const hooks = w.receiver.events.filter((e) => ids.includes(String(e.body.requestId)));

  for (const f of filed) {
    const r = rows.find((row) => row.id === f.id);
    if (!r) throw new Error(`${f.id} vanished`);
    const events = audit.filter((e) => e.requestId === f.id);

    // Statuses only follow TRANSITIONS: replay the audit trail's request.* events.
    expect(events[0]?.action).toBe("request.created");
    const path: RequestStatus[] = ["PENDING"];
    for (const e of events) {
      const to = STATUS_BY_ACTION.get(e.action);
      if (!to) continue;
      const from = path[path.length - 1] as RequestStatus;
      expect(
        isTransition(from, to),
        `${f.id}: ${from} → ${to} is not a transition (path ${path.join(" → ")})`,
      ).toBe(true);
      path.push(to);
    }
    expect(r.status, `${f.id}: DB status vs audit path ${path.join(" → ")}`).toBe(path[path.length - 1]);
    // Quiesced: every request has ended.
    expect(isFinal(r.status as RequestStatus), `${f.id} still ${r.status} after quiescing`).toBe(true);

    // Exactly one grant row per approved request, none otherwise; every grant has ended.
    const approved = path.includes("APPROVED");
    expect(Boolean(r.grant), `${f.id}: grant row vs path ${path.join(" → ")}`).toBe(approved);
    if (r.grant) {
      expect(r.grant.id).toBe(f.grantId);
      expect(r.grant.endedAt, `${f.grantId} never ended`).not.toBeNull();
      if (r.status === "REVOKED") expect([f.requesterId, ADMIN]).toContain(r.grant.revokeRequestedBy);
      if (r.status === "EXPIRED") expect(r.grant.revokeRequestedAt).toBeNull();
    }
    expect(w.receiver.active.has(f.grantId), `${f.grantId} still active at the provider`).toBe(false);

    // The provider saw at most one grant for this request, never after a revoke, only if approved.
    // (The receiver records only requests it answered 2xx; with no `timeout` mode in the schedule a
    // grant it accepted is always committed as ACTIVE, so even a redelivered job never re-sends.)
    const mine = hooks.filter((e) => e.body.requestId === f.id);
    for (const e of mine) expect(e.body.grantId).toBe(f.grantId);
    const grants = mine.filter((e) => e.event === "grant");
    expect(grants.length, `${f.id}: grants sent to the provider`).toBeLessThanOrEqual(1);
    if (grants.length > 0) {
      expect(approved).toBe(true);
      expect(path, `${f.id}: provider granted but never ACTIVE`).toContain("ACTIVE");
      const firstRevoke = mine.findIndex((e) => e.event === "revoke");
      const lastGrant = mine.map((e) => e.event).lastIndexOf("grant");
      expect(firstRevoke, `${f.id}: no revoke after the grant`).toBeGreaterThan(lastGrant);
    }
    if (path.includes("ACTIVE")) expect(grants.length).toBe(1);
    paths.set(path.join(">"), (paths.get(path.join(">")) ?? 0) + 1);

    // Decisions: only approvers vote, never the requester (no selfApproval here); a deny wins.
    const allowed = f.resourceId === "two-keys" ? TWO_KEYS_APPROVERS : [...APPROVERS];
    for (const d of r.decisions) {
      expect(allowed).toContain(d.approverId);
      expect(d.approverId).not.toBe(f.requesterId);
    }
    if (r.decisions.some((d) => d.outcome === "DENY")) {
      expect(path).toContain("DENIED");
      expect(approved).toBe(false);
    }
    const approval = events.find((e) => e.action === "request.approved");
    if (approval) {
      const approvers = (approval.details as { approvers: string[] }).approvers;
      expect(new Set(approvers).size).toBe(approvers.length);
      expect(approvers.length).toBeGreaterThanOrEqual(REQUIRED[f.resourceId] ?? 1);
      expect(approvers).not.toContain(f.requesterId);
      for (const a of approvers) expect(allowed).toContain(a);
    }
    const cancelled = events.find((e) => e.action === "request.cancelled");
    if (cancelled) expect(cancelled.actor).toBe(f.requesterId);
  }

  // Distinct grants at the provider never outnumber the approved requests.
  const granted = new Set(hooks.filter((e) => e.event === "grant").map((e) => String(e.body.grantId)));
  expect(granted.size).toBeLessThanOrEqual(rows.filter((r) => r.grant).length);

  const verified = await verifyAudit(w.deps.db);
  expect(
    verified,
    JSON.stringify(verified, (_, v) => (typeof v === "bigint" ? v.toString() : v)),
  ).toMatchObject({
    ok: true,
  });
}

/** How often each status path was seen (print with `printPaths` under PROPERTY_STATS=1). */
const paths = new Map<string, number>();
export function printPaths(): void {
  if (!process.env.PROPERTY_STATS) return;
  console.log(
    [...paths]
      .sort((a, b) => b[1] - a[1])
      .map(([p, n]) => `${n}\t${p}`)
      .join("\n"),
  );
}

export function describeCommand(c: Command): string {
  if (c.kind === "pair") return `(${describeCommand(c.a)} ‖ ${describeCommand(c.b)})`;
  const { kind, ...rest } = c;
  return `${kind}${Object.keys(rest).length ? JSON.stringify(rest) : ""}`;
}

/**
 * With jit's workers running: make time pass for everything still open and wait until the workers
 * and the reconciler (every second under test tuning) have ended it all.
 */
export async function quiesceWithWorkers(w: World, filed: Filed[]): Promise<void> {
  w.receiver.setMode("ok");
  const ids = filed.map((f) => f.id);
  await waitFor(
    async () => {
      await w.deps.db.accessRequest.updateMany({
        where: { id: { in: ids }, status: "PENDING" },
        data: { timeoutAt: new Date(Date.now() - 1_000) },
      });
      await w.deps.db.grant.updateMany({
        where: { requestId: { in: ids }, endedAt: null, expiresAt: { not: null } },
        data: { expiresAt: new Date(Date.now() - 1_000) },
      });
      const open = await w.deps.db.accessRequest.count({
        where: {
          id: { in: ids },
          OR: [{ status: { in: ["PENDING", "APPROVED", "ACTIVE"] } }, { grant: { endedAt: null } }],
        },
      });
      return open === 0;
    },
    { timeout: 30_000, interval: 200, message: `requests ${ids.join(", ")} never all ended` },
  );
}

/** Files the run's requests, runs its commands (checking after each), quiesces, checks the end. */
export async function runScenario(
  w: World,
  { filings, commands }: { filings: Filing[]; commands: Command[] },
): Promise<void> {
  w.receiver.setMode("ok");
  const filed: Filed[] = [];
  for (const f of filings) {
    const outcome = await requestAccess(w.deps, { ...f, reason: "property test" });
    if (!outcome.ok || !outcome.requestId) throw new Error(`request refused: ${outcome.message}`);
    filed.push({ ...f, id: outcome.requestId, grantId: grantIdFor(outcome.requestId) });
  }
  const unexpected: unknown[] = [];
  for (const [i, c] of commands.entries()) {
    await runCommand(w, c, filed, unexpected);
    expect(unexpected, `step ${i} ${describeCommand(c)} threw`).toEqual([]);
    await checkStep(w, filed, `after step ${i} ${describeCommand(c)}`);
  }
  if (w.workers) await quiesceWithWorkers(w, filed);
  else await quiesce(w, filed, unexpected);
  expect(unexpected, "quiescing threw").toEqual([]);
  await checkFinal(w, filed);
}
