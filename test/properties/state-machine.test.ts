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
 * Pure properties of the request state machine and the vote tally: random event sequences applied
 * to a fresh PENDING request, and random vote lists. Cheap, so they run many times.
 */

const EVENTS = Object.keys(TRANSITIONS) as LifecycleEvent[];
const STATUSES: RequestStatus[] = [
  "PENDING",
  "APPROVED",
  "ACTIVE",
  "REVOKED",
  "EXPIRED",
  "DENIED",
  "CANCELLED",
  "TIMED_OUT",
  "FAILED",
];
const RUNS = Number(process.env.PROPERTY_RUNS ?? 0) * 20 || 1_000;

const event = fc.constantFrom(...EVENTS);
const status = fc.constantFrom(...STATUSES);

/** Applies events in order, skipping those that do not apply (as the conditional update does). */
function run(events: readonly LifecycleEvent[]): { path: RequestStatus[]; applied: LifecycleEvent[] } {
  const path: RequestStatus[] = ["PENDING"];
  const applied: LifecycleEvent[] = [];
  for (const e of events) {
    const next = nextStatus(path[path.length - 1] as RequestStatus, e);
    if (next === null) continue;
    path.push(next);
    applied.push(e);
  }
  return { path, applied };
}

describe("state machine (random event sequences)", () => {
  it("never leaves a final state, and every step is a declared transition", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        const { path, applied } = run(events);
        for (let i = 1; i < path.length; i++) {
          const from = path[i - 1] as RequestStatus;
          const to = path[i] as RequestStatus;
          const t = TRANSITIONS[applied[i - 1] as LifecycleEvent];
          expect((t.from as readonly RequestStatus[]).includes(from)).toBe(true);
          expect(t.to).toBe(to);
          expect(isFinal(from)).toBe(false);
        }
        // Once final, nothing applies any more.
        const last = path[path.length - 1] as RequestStatus;
        if (isFinal(last)) for (const e of EVENTS) expect(nextStatus(last, e)).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it("visits each status at most once (no cycles) and takes at most 3 steps", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        const { path } = run(events);
        expect(new Set(path).size).toBe(path.length);
        expect(path.length).toBeLessThanOrEqual(4);
      }),
      { numRuns: RUNS },
    );
  });

  it("applying an event twice is the same as once (retries and double clicks are absorbed)", () => {
    fc.assert(
      fc.property(status, event, (s, e) => {
        const once = nextStatus(s, e);
        if (once === null) return;
        // A second delivery of the same event finds the state moved and does nothing.
        expect(nextStatus(once, e)).toBeNull();
      }),
      { numRuns: RUNS },
    );
  });

  it("access may exist only on the granted path: ACTIVE is reached only through APPROVED", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        const { path } = run(events);
        const active = path.indexOf("ACTIVE");
        if (active >= 0) expect(path[active - 1]).toBe("APPROVED");
        // A request that was never approved never reaches a granted or post-grant state.
        if (!path.includes("APPROVED")) {
          for (const s of path) {
            expect(GRANTED_STATES.includes(s)).toBe(false);
            expect(["REVOKED", "EXPIRED", "FAILED"]).not.toContain(s);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("nextStatus agrees with the TRANSITIONS table for every (status, event)", () => {
    fc.assert(
      fc.property(status, event, (s, e) => {
        const t = TRANSITIONS[e];
        const expected = (t.from as readonly RequestStatus[]).includes(s) ? t.to : null;
        expect(nextStatus(s, e)).toBe(expected);
        if (isFinal(s)) expect(nextStatus(s, e)).toBeNull();
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
    fc.assert(
      fc.property(
        fc.array(approveVote, { maxLength: 20 }),
        fc.integer({ min: 1, max: 5 }),
        (votes, required) => {
          const distinct = new Set(votes.map((v) => v.approverId)).size;
          expect(tally(votes, required)).toBe(distinct >= required ? "approved" : "pending");
          // Duplicating every vote changes nothing.
          expect(tally([...votes, ...votes], required)).toBe(tally(votes, required));
        },
      ),
      { numRuns: RUNS },
    );
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
