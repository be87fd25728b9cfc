/**
 * The request state machine. Every state change in jit is one of these events, applied as a
 * conditional update (`WHERE status IN from`), so a retry, a double click or a second replica
 * applying the same event finds the state already moved and does nothing.
 *
 *   PENDING ─approve→ APPROVED ─activate→ ACTIVE ─revoke→ REVOKED
 *      │                  │ └─fail→ FAILED       └─expire→ EXPIRED
 *      ├─deny→ DENIED     └─(revoke|expire: a grant that may have been half-made is cleaned up)
 *      ├─cancel→ CANCELLED
 *      └─timeout→ TIMED_OUT
 */
export type RequestStatus =
  | "PENDING"
  | "APPROVED"
  | "ACTIVE"
  | "REVOKED"
  | "EXPIRED"
  | "DENIED"
  | "CANCELLED"
  | "TIMED_OUT"
  | "FAILED";

export const TRANSITIONS = {
  approve: { from: ["PENDING"], to: "APPROVED" },
  deny: { from: ["PENDING"], to: "DENIED" },
  cancel: { from: ["PENDING"], to: "CANCELLED" },
  timeout: { from: ["PENDING"], to: "TIMED_OUT" },
  activate: { from: ["APPROVED"], to: "ACTIVE" },
  fail: { from: ["APPROVED"], to: "FAILED" },
  revoke: { from: ["APPROVED", "ACTIVE"], to: "REVOKED" },
  expire: { from: ["APPROVED", "ACTIVE"], to: "EXPIRED" },
} as const satisfies Record<string, { from: readonly RequestStatus[]; to: RequestStatus }>;

export type LifecycleEvent = keyof typeof TRANSITIONS;

/** The state after `event`, or null when the event does not apply in `status`. */
export function nextStatus(status: RequestStatus, event: LifecycleEvent): RequestStatus | null {
  const transition = TRANSITIONS[event];
  return (transition.from as readonly RequestStatus[]).includes(status) ? transition.to : null;
}

/** States in which access may exist at the provider (granted, or being granted). */
export const GRANTED_STATES: readonly RequestStatus[] = ["APPROVED", "ACTIVE"];

export function isFinal(status: RequestStatus): boolean {
  return !["PENDING", "APPROVED", "ACTIVE"].includes(status);
}

export type Vote = { approverId: string; outcome: "APPROVE" | "DENY" };

/** Any deny ends the request; otherwise it is approved once enough distinct approvers agreed. */
export function tally(votes: readonly Vote[], requiredApprovals: number): "approved" | "denied" | "pending" {
  if (votes.some((v) => v.outcome === "DENY")) return "denied";
  const approvers = new Set(votes.filter((v) => v.outcome === "APPROVE").map((v) => v.approverId));
  return approvers.size >= requiredApprovals ? "approved" : "pending";
}
