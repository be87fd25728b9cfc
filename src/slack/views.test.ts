import { describe, expect, it } from "vitest";
import { approvalCard, type CardState } from "./views.js";

const card = (overrides: Partial<CardState> = {}): CardState => ({
  id: "R-7KQ2",
  requesterId: "U0ALICE",
  resourceId: "deploy-hook",
  resourceName: "Deploy hook",
  durationSec: 1800,
  reason: "deploy https://evil.example #general @here",
  status: "PENDING",
  requiredApprovals: 1,
  decisions: [],
  ...overrides,
});

/** Every text object in the blocks, wherever it sits. */
function textObjects(value: unknown): { type: string; text: string; verbatim?: boolean }[] {
  if (Array.isArray(value)) return value.flatMap(textObjects);
  if (!value || typeof value !== "object") return [];
  const record = value as Record<string, unknown>;
  const own = record.type === "mrkdwn" || record.type === "plain_text" ? [record as never] : [];
  return [...own, ...Object.values(record).flatMap(textObjects)];
}

describe("approvalCard", () => {
  it("marks every mrkdwn text verbatim, so Slack links and mentions nothing on its own", () => {
    const blocks = approvalCard(card());
    const mrkdwn = textObjects(blocks).filter((t) => t.type === "mrkdwn");
    expect(mrkdwn.length).toBeGreaterThanOrEqual(4);
    for (const text of mrkdwn) expect(text.verbatim).toBe(true);
    expect(mrkdwn.map((t) => t.text)).toContain("*Reason:* deploy https://evil.example #general @here");
  });

  it("drops bidi controls from the reason", () => {
    const blocks = approvalCard(card({ reason: "rollback \u202Eevil\u202C \u2066x\u2069\u200F" }));
    const reason = textObjects(blocks).find((t) => t.text.startsWith("*Reason:*"));
    expect(reason?.text).toBe("*Reason:* rollback evil x");
  });

  it("keeps the reason section within Slack's 3,000 characters however much escaping grows it", () => {
    const blocks = approvalCard(card({ reason: "&".repeat(1000) }));
    const reason = textObjects(blocks).find((t) => t.text.startsWith("*Reason:*"));
    expect(reason?.text.length).toBeLessThanOrEqual(3000);
    expect(reason?.text.endsWith("…")).toBe(true);
  });
});
