import { describe, expect, it } from "vitest";
import { isAuditedRepeat } from "./refusals.js";

describe("isAuditedRepeat", () => {
  it("audits the first refusal and the 10th, 100th, 1000th… repeat, nothing else", () => {
    const audited = Array.from({ length: 20_000 }, (_, i) => i + 1).filter(isAuditedRepeat);
    expect(audited).toEqual([1, 10, 100, 1000, 10_000]);
  });
});
