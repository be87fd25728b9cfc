import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  GRANTED_STATES,
  isFinal,
  type LifecycleEvent,
  nextStatus,
  type RequestStatus,
  TRANSITIONS,
  tally,
  type Vote,
} from "../../src/domain/lifecycle.js";

/**
 * Pure properties of the request state machine and the vote tally, checked against an independent
 * model: the lifecycle as the product describes it, written out here by hand (not derived from
 * TRANSITIONS), and vote lists whose verdict is known from how they were built. Cheap, so they
 * run many times.
 */

/**
 * The lifecycle, by hand: what each event does in each state; an event missing from a row does
 * not apply there (the conditional update changes nothing).
 *   PENDING → APPROVED (approve) | DENIED (deny) | CANCELLED (cancel) | TIMED_OUT (timeout)
 *   APPROVED → ACTIVE (activate) | FAILED (fail) | REVOKED | EXPIRED (a half-made grant is cleaned up)
 *   ACTIVE → REVOKED (revoke) | EXPIRED (expire)
 *   everything else is final.
 */
const MODEL: Record<RequestStatus, Partial<Record<LifecycleEvent, RequestStatus>>> = {
  PENDING: { approve: "APPROVED", deny: "DENIED", cancel: "CANCELLED", timeout: "TIMED_OUT" },
  APPROVED: { activate: "ACTIVE", fail: "FAILED", revoke: "REVOKED", expire: "EXPIRED" },
  ACTIVE: { revoke: "REVOKED", expire: "EXPIRED" },
  REVOKED: {},
  EXPIRED: {},
  DENIED: {},
  CANCELLED: {},
  TIMED_OUT: {},
  FAILED: {},
};
const EVENTS: LifecycleEvent[] = [
  "approve",
  "deny",
  "cancel",
  "timeout",
  "activate",
  "fail",
  "revoke",
  "expire",
];
const STATUSES = Object.keys(MODEL) as RequestStatus[];
const RUNS = Number(process.env.PROPERTY_RUNS ?? 0) * 20 || 1_000;

const event = fc.constantFrom(...EVENTS);

/** Applies events in order, skipping those that do not apply (as the conditional update does). */
function run(
  step: (s: RequestStatus, e: LifecycleEvent) => RequestStatus | null | undefined,
  events: readonly LifecycleEvent[],
): RequestStatus[] {
  const path: RequestStatus[] = ["PENDING"];
  for (const e of events) {
    const next = step(path[path.length - 1] as RequestStatus, e);
    if (next) path.push(next);
  }
  return path;
}

describe("state machine", () => {
  it("the model names every event jit has (a new event needs a row here)", () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...EVENTS].sort());
  });

  it("nextStatus matches the model for every (status, event)", () => {
    for (const s of STATUSES) {
      for (const e of EVENTS) expect(nextStatus(s, e), `${e} in ${s}`).toBe(MODEL[s][e] ?? null);
    }
  });

  it("isFinal and GRANTED_STATES match the model", () => {
    for (const s of STATUSES) expect(isFinal(s), s).toBe(Object.keys(MODEL[s]).length === 0);
    expect([...GRANTED_STATES].sort()).toEqual(["ACTIVE", "APPROVED"]);
  });

  it("random event sequences follow the model's path", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        expect(run(nextStatus, events)).toEqual(run((s, e) => MODEL[s][e], events));
      }),
      { numRuns: RUNS },
    );
  });

  it("visits each status at most once (no cycles), takes at most 3 steps, and stays final", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        const path = run(nextStatus, events);
        expect(new Set(path).size).toBe(path.length);
        expect(path.length).toBeLessThanOrEqual(4);
        const last = path[path.length - 1] as RequestStatus;
        if (isFinal(last)) for (const e of EVENTS) expect(nextStatus(last, e)).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it("applying an event twice is the same as once (retries and double clicks are absorbed)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...STATUSES), event, (s, e) => {
        const once = nextStatus(s, e);
        if (once !== null) expect(nextStatus(once, e)).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it("access may exist only on the granted path: ACTIVE is reached only through APPROVED", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        const path = run(nextStatus, events);
        const active = path.indexOf("ACTIVE");
        if (active >= 0) expect(path[active - 1]).toBe("APPROVED");
        if (!path.includes("APPROVED")) {
          for (const s of path)
            expect(["APPROVED", "ACTIVE", "REVOKED", "EXPIRED", "FAILED"]).not.toContain(s);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("tally (random votes)", () => {
  const approver = fc.constantFrom("U1", "U2", "U3", "U4", "U5");
  const vote: fc.Arbitrary<Vote> = fc.record({
    approverId: approver,
    outcome: fc.constantFrom("APPROVE" as const, "DENY" as const),
  });
  const approveVote: fc.Arbitrary<Vote> = fc.record({
    approverId: approver,
    outcome: fc.constant("APPROVE" as const),
  });

  it("any deny wins, whatever the order and the count of approvals", () => {
    fc.assert(
      fc.property(fc.array(vote, { maxLength: 20 }), fc.integer({ min: 1, max: 5 }), (votes, required) => {
        const verdict = tally(votes, required);
        expect(verdict === "denied").toBe(votes.some((v) => v.outcome === "DENY"));
      }),
      { numRuns: RUNS },
    );
  });

  it("approval requires that many distinct approvers: repeated votes by one person count once", () => {
    // Votes built from k distinct approvers, each voting one or more times: the verdict is known
    // from k, not computed.
    const build = fc.uniqueArray(approver, { minLength: 0, maxLength: 5 }).chain((people) =>
      fc
        .array(fc.integer({ min: 1, max: 3 }), { minLength: people.length, maxLength: people.length })
        .chain((times) =>
          fc.shuffledSubarray(
            people.flatMap((p, i) =>
              Array.from({ length: times[i] ?? 1 }, () => ({ approverId: p, outcome: "APPROVE" as const })),
            ),
            { minLength: times.reduce((a, b) => a + b, 0), maxLength: times.reduce((a, b) => a + b, 0) },
          ),
        )
        .map((votes) => ({ distinct: people.length, votes })),
    );
    fc.assert(
      fc.property(build, fc.integer({ min: 1, max: 5 }), ({ distinct, votes }, required) => {
        expect(tally(votes, required)).toBe(distinct >= required ? "approved" : "pending");
      }),
      { numRuns: RUNS },
    );
  });

  it("matches hand-worked examples", () => {
    const a = (approverId: string): Vote => ({ approverId, outcome: "APPROVE" });
    const d = (approverId: string): Vote => ({ approverId, outcome: "DENY" });
    expect(tally([], 1)).toBe("pending");
    expect(tally([a("U1")], 1)).toBe("approved");
    expect(tally([a("U1"), a("U1")], 2)).toBe("pending");
    expect(tally([a("U1"), a("U2")], 2)).toBe("approved");
    expect(tally([a("U1"), a("U2"), d("U3")], 2)).toBe("denied");
    expect(tally([d("U1"), a("U1")], 1)).toBe("denied");
  });

  it("is independent of vote order and monotone in approvals", () => {
    const votesAndPermutation = fc
      .array(vote, { maxLength: 12 })
      .chain((votes) =>
        fc
          .shuffledSubarray(votes, { minLength: votes.length, maxLength: votes.length })
          .map((shuffled) => ({ votes, shuffled })),
      );
    fc.assert(
      fc.property(
        votesAndPermutation,
        fc.integer({ min: 1, max: 5 }),
        approveVote,
        ({ votes, shuffled }, required, extra) => {
          expect(tally(shuffled, required)).toBe(tally(votes, required));
          // One more approval never turns an approved or denied verdict back to pending.
          const before = tally(votes, required);
          if (before !== "pending") expect(tally([...votes, extra], required)).toBe(before);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
