import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { grantIdFor, ID_ALPHABET, isRequestId, newRequestId, normalizeRequestId } from "./ids.js";

describe("newRequestId", () => {
  it("is R- followed by four Crockford base32 characters by default", () => {
    for (let i = 0; i < 200; i++) expect(newRequestId()).toMatch(/^R-[0-9A-HJKMNP-TV-Z]{4}$/);
  });

  it("honours the requested length", () => {
    expect(newRequestId(8)).toMatch(/^R-[0-9A-HJKMNP-TV-Z]{8}$/);
    expect(newRequestId(16)).toHaveLength(18);
  });

  it("refuses lengths that would be too guessable or unwieldy", () => {
    expect(() => newRequestId(3)).toThrow(RangeError);
    expect(() => newRequestId(17)).toThrow(RangeError);
    expect(() => newRequestId(4.5)).toThrow(RangeError);
  });

  it("never uses I, L, O or U, and the alphabet has 32 distinct symbols", () => {
    expect(new Set(ID_ALPHABET).size).toBe(32);
    expect(ID_ALPHABET).not.toMatch(/[ILOU]/);
  });

  it("spreads over the alphabet (random, not sequential)", () => {
    const seen = new Set<string>();
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = newRequestId();
      ids.add(id);
      for (const c of id.slice(2)) seen.add(c);
    }
    expect(seen.size).toBe(32);
    // 2000 draws from ~1M ids: a handful of collisions at most.
    expect(ids.size).toBeGreaterThan(1990);
  });

  it("produces ids that isRequestId accepts unchanged", () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 16 }), (length) => {
        const id = newRequestId(length);
        expect(isRequestId(id)).toBe(true);
        expect(normalizeRequestId(id)).toBe(id);
      }),
    );
  });
});

describe("normalizeRequestId / isRequestId", () => {
  it.each([
    ["R-7KQ2", "R-7KQ2"],
    ["r-7kq2", "R-7KQ2"],
    [" R-7KQ2 ", "R-7KQ2"],
    ["R-7KQO", "R-7KQ0"],
    ["r-il7z", "R-117Z"],
    ["R-ABCDEFGH", "R-ABCDEFGH"],
  ])("reads %j as %s", (text, expected) => {
    expect(normalizeRequestId(text)).toBe(expected);
    expect(isRequestId(text)).toBe(true);
  });

  it.each([
    "7KQ2",
    "G-7KQ2",
    "R-",
    "R-7KQ",
    "R-7KQU",
    "R_7KQ2",
    "R-7K Q2",
    "R-7KQ2-",
    "",
    "R-ıKQ2",
    "R-7KQſ",
    `R-${"A".repeat(17)}`,
  ])("rejects %j", (text) => {
    expect(normalizeRequestId(text)).toBeNull();
    expect(isRequestId(text)).toBe(false);
  });

  it("never throws and only ever returns canonical ids", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        const id = normalizeRequestId(text);
        if (id !== null) expect(id).toMatch(/^R-[0-9A-HJKMNP-TV-Z]{4,16}$/);
      }),
    );
  });
});

describe("grantIdFor", () => {
  it("swaps the R- prefix for G-", () => {
    expect(grantIdFor("R-7KQ2")).toBe("G-7KQ2");
    expect(grantIdFor("r-7kq2")).toBe("G-7KQ2");
  });

  it("refuses text that is not a request id", () => {
    expect(() => grantIdFor("G-7KQ2")).toThrow(RangeError);
    expect(() => grantIdFor("nope")).toThrow(RangeError);
  });
});
