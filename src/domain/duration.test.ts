import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkDurationBounds,
  DAY,
  formatDuration,
  HOUR,
  MAX_DURATION_SEC,
  MINUTE,
  parseDuration,
} from "./duration.js";

const seconds = (text: string): number => {
  const result = parseDuration(text);
  if (!result.ok) throw new Error(`expected ${text} to parse: ${result.error}`);
  return result.seconds;
};
const error = (text: string): string => {
  const result = parseDuration(text);
  if (result.ok) throw new Error(`expected ${text} to be rejected, got ${result.seconds}s`);
  return result.error;
};

describe("parseDuration", () => {
  it.each([
    ["90s", 90],
    ["30m", 30 * MINUTE],
    ["2h", 2 * HOUR],
    ["1h30m", 90 * MINUTE],
    ["1d", DAY],
    ["1d12h", 36 * HOUR],
    ["1d2h3m4s", DAY + 2 * HOUR + 3 * MINUTE + 4],
    ["90m", 90 * MINUTE],
    ["1H30M", 90 * MINUTE],
    ["1h0m", HOUR],
    ["365d", 365 * DAY],
    [" 2h ", 2 * HOUR],
  ])("reads %j as %i seconds", (text, expected) => {
    expect(seconds(text)).toBe(expected);
  });

  it.each([
    "0m",
    "0s",
    "0d0h",
    "",
    "   ",
    "1.5h",
    "h",
    "1x",
    "30",
    "1m1h",
    "1h1h",
    "-1h",
    "1 h",
    "1h 30m",
    "+1h",
    "1e3s",
    "１h",
  ])("rejects %j", (text) => {
    expect(parseDuration(text).ok).toBe(false);
  });

  it("rejects anything longer than 365 days", () => {
    expect(error("366d")).toBe('"366d" is too long; the longest duration jit accepts is 365d');
    expect(error("365d1s")).toContain("too long");
    expect(error(`${"9".repeat(30)}d`)).toContain("too long");
  });

  it("explains how to write a duration", () => {
    expect(error("1x")).toBe('"1x" is not a duration; write it like 90s, 30m, 2h, 1h30m or 1d');
    expect(error("1.5h")).toBe('"1.5h" is not a duration; write it like 90s, 30m, 2h, 1h30m or 1d');
    expect(error("")).toBe("A duration is missing; write it like 90s, 30m, 2h, 1h30m or 1d");
  });

  it("gives a specific hint for a missing unit, wrong order and zero", () => {
    expect(error("30")).toBe('"30" needs a unit; write it like 30m or 30h');
    expect(error("1m1h")).toBe(
      '"1m1h" is not a duration; put the units largest first, each once, like 1h30m',
    );
    expect(error("0m")).toBe('"0m" is zero; write a duration like 90s, 30m, 2h, 1h30m or 1d');
  });

  it("does not echo a huge input back in full", () => {
    const message = error("x".repeat(10_000));
    expect(message.length).toBeLessThan(120);
    expect(message).toContain("…");
  });

  it("never throws, and any success is a whole number of seconds within bounds", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: "binary" }), fc.stringMatching(/^[0-9dhmsDHMS.\- ]{0,40}$/)),
        (text) => {
          const result = parseDuration(text);
          if (result.ok) {
            expect(Number.isInteger(result.seconds)).toBe(true);
            expect(result.seconds).toBeGreaterThan(0);
            expect(result.seconds).toBeLessThanOrEqual(MAX_DURATION_SEC);
          } else {
            expect(result.error.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("reads any d/h/m/s groups in descending order as their sum", () => {
    const group = fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined });
    fc.assert(
      fc.property(group, group, group, group, fc.boolean(), (d, h, m, s, upper) => {
        const parts: Array<[number | undefined, string, number]> = [
          [d, "d", DAY],
          [h, "h", HOUR],
          [m, "m", MINUTE],
          [s, "s", 1],
        ];
        let text = parts.map(([n, unit]) => (n === undefined ? "" : `${n}${unit}`)).join("");
        if (upper) text = text.toUpperCase();
        const total = parts.reduce((sum, [n, , size]) => sum + (n ?? 0) * size, 0);
        const result = parseDuration(text);
        expect(result.ok).toBe(total > 0 && total <= MAX_DURATION_SEC);
        if (result.ok) expect(result.seconds).toBe(total);
      }),
    );
  });
});

describe("formatDuration", () => {
  it.each([
    [5400, "1h30m"],
    [86400, "1d"],
    [90, "1m30s"],
    [1, "1s"],
    [3600, "1h"],
    [DAY + 1, "1d1s"],
    [0, "0s"],
    [MAX_DURATION_SEC, "365d"],
  ])("writes %i seconds as %s", (input, expected) => {
    expect(formatDuration(input)).toBe(expected);
  });

  it("refuses negative, fractional and non-finite input", () => {
    expect(() => formatDuration(-1)).toThrow(RangeError);
    expect(() => formatDuration(1.5)).toThrow(RangeError);
    expect(() => formatDuration(Number.NaN)).toThrow(RangeError);
  });

  it("round-trips through parseDuration for every positive duration up to 365d", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_DURATION_SEC }), (n) => {
        const text = formatDuration(n);
        expect(text).toMatch(/^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$/);
        expect(parseDuration(text)).toEqual({ ok: true, seconds: n });
      }),
      { numRuns: 5000 },
    );
  });

  it("is the canonical form: formatting a parsed text is stable", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_DURATION_SEC }), (n) => {
        const once = formatDuration(n);
        expect(formatDuration(seconds(once))).toBe(once);
      }),
    );
  });
});

describe("checkDurationBounds", () => {
  const bounds = { min: MINUTE, max: HOUR };

  it("accepts the bounds themselves and anything between", () => {
    expect(checkDurationBounds(MINUTE, bounds)).toBeNull();
    expect(checkDurationBounds(HOUR, bounds, "staging-db")).toBeNull();
    expect(checkDurationBounds(30 * MINUTE, bounds)).toBeNull();
  });

  it("names the maximum and the resource when too long", () => {
    expect(checkDurationBounds(2 * HOUR, bounds, "staging-db")).toBe(
      "2h is longer than the 1h maximum for staging-db",
    );
    expect(checkDurationBounds(HOUR + 1, bounds)).toBe("1h1s is longer than the 1h maximum");
  });

  it("names the minimum when too short", () => {
    expect(checkDurationBounds(30, bounds, "staging-db")).toBe("30s is shorter than the minimum of 1m");
  });
});
