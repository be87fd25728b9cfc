import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { roleNameFor } from "../../src/providers/postgres/role-name.js";

describe("roleNameFor", () => {
  it("always yields a short, lower-case, prefixed identifier, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 400 }), fc.string(), (slackId, grantId) => {
        const role = roleNameFor({ grantId, requester: { slackId } });
        expect(role).toMatch(/^jit_[a-z0-9_]+$/);
        expect(Buffer.byteLength(role)).toBeLessThanOrEqual(63);
        expect(role).not.toMatch(/__|_$/);
      }),
    );
  });

  it("is deterministic and keyed by grantId", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (slackId, a, b) => {
        fc.pre(a !== b);
        const requester = { slackId };
        expect(roleNameFor({ grantId: a, requester })).toBe(roleNameFor({ grantId: a, requester }));
        expect(roleNameFor({ grantId: a, requester })).not.toBe(roleNameFor({ grantId: b, requester }));
      }),
    );
  });

  it("keeps a readable slug of the Slack id", () => {
    expect(roleNameFor({ grantId: "g1", requester: { slackId: "U024BE7LH" } })).toMatch(
      /^jit_u024be7lh_[0-9a-f]{16}$/,
    );
    expect(roleNameFor({ grantId: "g1", requester: { slackId: "!!!" } })).toMatch(/^jit_[0-9a-f]{16}$/);
  });
});
