import { describe, expect, it } from "vitest";
import { isFinal, nextStatus, type RequestStatus, tally } from "./lifecycle.js";

describe("request state machine", () => {
  it("moves a pending request to each of its decisions", () => {
    expect(nextStatus("PENDING", "approve")).toBe("APPROVED");
    expect(nextStatus("PENDING", "deny")).toBe("DENIED");
    expect(nextStatus("PENDING", "cancel")).toBe("CANCELLED");
    expect(nextStatus("PENDING", "timeout")).toBe("TIMED_OUT");
  });

  it("grants only approved requests and ends only granted ones", () => {
    expect(nextStatus("APPROVED", "activate")).toBe("ACTIVE");
    expect(nextStatus("PENDING", "activate")).toBeNull();
    expect(nextStatus("ACTIVE", "expire")).toBe("EXPIRED");
    expect(nextStatus("APPROVED", "revoke")).toBe("REVOKED");
    expect(nextStatus("DENIED", "revoke")).toBeNull();
  });

  it("never leaves a final state", () => {
    const finals: RequestStatus[] = ["REVOKED", "EXPIRED", "DENIED", "CANCELLED", "TIMED_OUT", "FAILED"];
    const events = ["approve", "deny", "cancel", "timeout", "activate", "fail", "revoke", "expire"] as const;
    for (const status of finals) {
      expect(isFinal(status)).toBe(true);
      for (const event of events) expect(nextStatus(status, event)).toBeNull();
    }
  });
});

describe("tally", () => {
  it("needs distinct approvers", () => {
    const votes = [{ approverId: "U1", outcome: "APPROVE" as const }];
    expect(tally(votes, 1)).toBe("approved");
    expect(tally(votes, 2)).toBe("pending");
    expect(tally([...votes, { approverId: "U1", outcome: "APPROVE" }], 2)).toBe("pending");
    expect(tally([...votes, { approverId: "U2", outcome: "APPROVE" }], 2)).toBe("approved");
  });

  it("lets any deny end the request", () => {
    expect(
      tally(
        [
          { approverId: "U1", outcome: "APPROVE" },
          { approverId: "U2", outcome: "DENY" },
        ],
        1,
      ),
    ).toBe("denied");
  });
});
