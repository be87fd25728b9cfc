import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CommandKind, type ParsedCommand, parseCommand, USAGE, usageFor } from "./command.js";
import { DAY, formatDuration, HOUR, MAX_DURATION_SEC, MINUTE } from "./duration.js";
import { escapeMrkdwn } from "./mrkdwn.js";

const message = (text: string): string => {
  const parsed = parseCommand(text);
  if (parsed.kind !== "invalid")
    throw new Error(`expected ${JSON.stringify(text)} to be invalid, got ${parsed.kind}`);
  return parsed.message;
};

describe("parseCommand: help and argument-less commands", () => {
  it.each(["", "   ", "\n\t", "help", "HELP", " Help ", "help request"])("reads %j as help", (text) => {
    expect(parseCommand(text)).toEqual({ kind: "help" });
  });

  it.each([
    ["resources", { kind: "resources" }],
    ["LIST", { kind: "list" }],
    ["request", { kind: "request-modal" }],
    ["  Request \n", { kind: "request-modal" }],
  ] as const)("reads %j", (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });

  it("rejects arguments to commands that take none, naming them", () => {
    expect(message("list mine")).toBe('`/jit list` takes no arguments; remove "mine".\nUsage: `/jit list`');
    expect(message("resources all of them")).toContain('remove "all of them"');
  });
});

describe("parseCommand: request and breakglass", () => {
  it("reads a full request", () => {
    expect(parseCommand("request staging-db 1h fix migration")).toEqual({
      kind: "request",
      resource: "staging-db",
      durationSec: HOUR,
      reason: "fix migration",
    });
  });

  it("reads breakglass the same way", () => {
    expect(parseCommand("BreakGlass prod-db 30m incident INC-42")).toEqual({
      kind: "breakglass",
      resource: "prod-db",
      durationSec: 30 * MINUTE,
      reason: "incident INC-42",
    });
  });

  it("splits on any whitespace but keeps the reason's own spacing", () => {
    const parsed = parseCommand(
      "\u00a0request\u00a0\u00a0staging-db\n1h30m \t fix  the\u00a0migration\nsee ticket  \n",
    );
    expect(parsed).toEqual({
      kind: "request",
      resource: "staging-db",
      durationSec: 90 * MINUTE,
      reason: "fix  the\u00a0migration\nsee ticket",
    });
  });

  it("decodes the entities Slack escaped, once, so the stored reason is what the user typed", () => {
    const parsed = parseCommand("request staging-db 1h &lt;!channel&gt; R&amp;D &amp;lt;");
    expect(parsed).toMatchObject({ kind: "request", reason: "<!channel> R&D &lt;" });
  });

  it("opens no modal for a bare breakglass", () => {
    expect(message("breakglass")).toBe(
      "Missing the resource, the duration and the reason.\n" +
        "Usage: `/jit breakglass <resource> <duration> <reason…>` — for example `/jit breakglass prod-db 30m incident INC-42`",
    );
  });

  it("says exactly what is missing, with the usage line", () => {
    expect(message("request staging-db")).toBe(
      "Missing the duration and the reason.\n" +
        "Usage: `/jit request <resource> <duration> <reason…>` — for example `/jit request staging-db 1h fix migration`",
    );
    expect(message("request staging-db 1h")).toMatch(
      /^Missing the reason: say why you need access\.\nUsage: /,
    );
  });

  it("passes on the duration parser's message", () => {
    expect(message("request staging-db 1x fix")).toMatch(
      /^"1x" is not a duration; write it like 90s, 30m, 2h, 1h30m or 1d\.\nUsage: `\/jit request/,
    );
    expect(message("request staging-db fix migration")).toContain('"fix" is not a duration');
    expect(message("request staging-db 0m fix")).toContain('"0m" is zero');
    expect(message("request staging-db 400d fix")).toContain("too long");
  });

  it("does not check policy bounds (that needs the policy)", () => {
    expect(parseCommand("request staging-db 365d long one")).toMatchObject({ durationSec: 365 * DAY });
    expect(parseCommand("request staging-db 1s quick")).toMatchObject({ durationSec: 1 });
  });

  it("rejects resource ids that are not lower-case, suggesting the fix", () => {
    expect(message("request Staging-DB 1h x")).toMatch(
      /^"Staging-DB" is not a resource id; resource ids are lower case — did you mean staging-db\?\n/,
    );
    const bad = message("request staging_db! 1h x");
    expect(bad).toContain('"staging_db!" is not a resource id');
    expect(bad).toContain("lower-case letters, digits");
    expect(message(`request -db 1h x`)).toContain("starting with a letter or digit");
    expect(message(`request ${"a".repeat(64)} 1h x`)).toContain("is not a resource id");
    expect(parseCommand(`request ${"a".repeat(63)} 1h x`)).toMatchObject({ kind: "request" });
  });

  it("caps the reason at 1,000 characters and says how long it was", () => {
    expect(parseCommand(`request db 1h ${"x".repeat(1000)}`)).toMatchObject({ kind: "request" });
    expect(message(`request db 1h ${"x".repeat(1234)}`)).toMatch(
      /^The reason is 1,234 characters long; keep it to 1,000 or fewer\.\n/,
    );
    // Characters, not UTF-16 units: 1,000 emoji are fine.
    expect(parseCommand(`request db 1h ${"😀".repeat(1000)}`)).toMatchObject({ kind: "request" });
  });

  it("measures the reason after decoding entities", () => {
    expect(parseCommand(`request db 1h ${"&amp;".repeat(1000)}`)).toMatchObject({ reason: "&".repeat(1000) });
  });
});

describe("parseCommand: commands about one request", () => {
  it.each([
    ["status R-7KQ2", { kind: "status", id: "R-7KQ2" }],
    ["status r-7kq2", { kind: "status", id: "R-7KQ2" }],
    ["Cancel R-7KQ2", { kind: "cancel", id: "R-7KQ2" }],
    ["revoke R-7KQ2", { kind: "revoke", id: "R-7KQ2" }],
    ["revoke R-7KQ2   done  early ", { kind: "revoke", id: "R-7KQ2", reason: "done  early" }],
    [
      "extend R-7KQ2 30m still migrating",
      { kind: "extend", id: "R-7KQ2", durationSec: 1800, reason: "still migrating" },
    ],
  ] as const)("reads %j", (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });

  it("leaves out the revoke reason entirely when none is given", () => {
    expect(Object.keys(parseCommand("revoke R-7KQ2"))).toEqual(["kind", "id"]);
  });

  it("explains a bad id", () => {
    expect(message("status 7KQ2")).toBe(
      '"7KQ2" is not a request id; ids look like R-7KQ2.\nUsage: `/jit status <id>` — for example `/jit status R-7KQ2`',
    );
    expect(message("cancel G-7KQ2")).toMatch(/^"G-7KQ2" is a grant id; use its request id, R-7KQ2\./);
  });

  it("says what is missing", () => {
    expect(message("status")).toMatch(/^Missing the request id\.\nUsage: `\/jit status <id>`/);
    expect(message("revoke")).toMatch(/^Missing the request id\.\nUsage: `\/jit revoke <id> \[reason\]`/);
    expect(message("extend")).toMatch(/^Missing the request id, the duration and the reason\./);
    expect(message("extend R-7KQ2")).toMatch(/^Missing the duration and the reason\./);
    expect(message("extend R-7KQ2 1h")).toMatch(/^Missing the reason: say why you need more time\./);
    expect(message("extend R-7KQ2 soon please")).toContain('"soon" is not a duration');
  });

  it("rejects extra words after status and cancel", () => {
    expect(message("cancel R-7KQ2 changed my mind")).toMatch(
      /^`\/jit cancel` takes only a request id; remove "changed my mind"\./,
    );
  });

  it("caps revoke and extend reasons too", () => {
    expect(message(`revoke R-7KQ2 ${"x".repeat(1001)}`)).toContain("1,001 characters");
    expect(message(`extend R-7KQ2 1h ${"x".repeat(1001)}`)).toContain("1,001 characters");
  });
});

describe("parseCommand: audit", () => {
  it.each([
    ["audit", "24h"],
    ["audit 24h", "24h"],
    ["AUDIT 7D", "7d"],
    ["audit 30d", "30d"],
    ["audit 1d", "24h"],
    ["audit 168h", "7d"],
  ] as const)("reads %j as window %s", (text, window) => {
    expect(parseCommand(text)).toEqual({ kind: "audit", window });
  });

  it("rejects other windows, listing the choices", () => {
    expect(message("audit 2d")).toBe(
      '"2d" is not an audit window; choose 24h, 7d or 30d.\nUsage: `/jit audit [24h|7d|30d]` — for example `/jit audit 7d`',
    );
    expect(message("audit week")).toContain("choose 24h, 7d or 30d");
    expect(message("audit 7d please")).toContain('remove "please"');
  });
});

describe("parseCommand: unknown commands", () => {
  it("names the word and answers with the usage", () => {
    expect(message("grant staging-db")).toBe(`"grant" is not a /jit command.\n\n${USAGE}`);
  });

  it("suggests the command a typo was probably meant to be", () => {
    expect(message("reqest db 1h x")).toBe(
      `"reqest" is not a /jit command. Did you mean \`/jit request\`?\n\n${USAGE}`,
    );
    expect(message("Revok R-7KQ2")).toContain("Did you mean `/jit revoke`?");
  });

  it("suggests status for a bare id", () => {
    expect(message("r-7kq2")).toContain("Did you mean `/jit status R-7KQ2`?");
  });

  it("does not let Unicode case folding forge a command", () => {
    // U+212A KELVIN SIGN lower-cases to "k".
    expect(parseCommand("brea\u212Aglass prod-db 1h x").kind).toBe("invalid");
    expect(parseCommand("\u0130nvalid").kind).toBe("invalid");
  });

  it("quotes at most a short prefix of a huge word", () => {
    const text = message("x".repeat(100_000));
    expect(text.endsWith(`\n\n${USAGE}`)).toBe(true);
    expect(text.length - USAGE.length).toBeLessThan(200);
  });
});

describe("USAGE and usageFor", () => {
  const kinds: CommandKind[] = [
    "help",
    "request-modal",
    "request",
    "resources",
    "list",
    "status",
    "cancel",
    "revoke",
    "extend",
    "breakglass",
    "audit",
  ];

  it("lists every command from the contract's table, one line each", () => {
    for (const usage of [
      "/jit help",
      "/jit request",
      "/jit request <resource> <duration> <reason…>",
      "/jit resources",
      "/jit list",
      "/jit status <id>",
      "/jit cancel <id>",
      "/jit revoke <id> [reason]",
      "/jit extend <id> <duration> <reason…>",
      "/jit breakglass <resource> <duration> <reason…>",
      "/jit audit [24h|7d|30d]",
    ]) {
      expect(USAGE).toContain(`• \`${usage}\` — `);
    }
    expect(USAGE.split("\n").filter((line) => line.startsWith("• "))).toHaveLength(kinds.length);
  });

  it("gives every example in the help a parse of its own kind", () => {
    for (const kind of kinds) {
      const example = /for example `\/jit ([^`]*)`/.exec(usageFor(kind))?.[1];
      if (example === undefined) continue;
      expect(parseCommand(example).kind).toBe(kind);
    }
  });

  it("has a usage line per kind", () => {
    expect(usageFor("status")).toBe("Usage: `/jit status <id>` — for example `/jit status R-7KQ2`");
    expect(usageFor("list")).toBe("Usage: `/jit list`");
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const KNOWN = [
  "help",
  "request",
  "resources",
  "list",
  "status",
  "cancel",
  "revoke",
  "extend",
  "breakglass",
  "audit",
];
const whitespace = fc
  .array(fc.constantFrom(" ", "\u00a0", "\n", "\t", "\u2003"), { minLength: 1, maxLength: 3 })
  .map((chars) => chars.join(""));
const randomCase = (word: string) =>
  fc
    .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
    .map((flags) => [...word].map((c, i) => (flags[i] ? c.toUpperCase() : c)).join(""));
const resource = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,62}$/);
const durationText = fc
  .integer({ min: 1, max: MAX_DURATION_SEC })
  .chain((seconds) => fc.tuple(fc.constant(seconds), randomCase(formatDuration(seconds))));
const reason = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom("&", "<", ">", " ", "\u00a0", "\n"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    ),
    minLength: 1,
    maxLength: 1000,
  })
  .filter((text) => text.trim() === text && text.length > 0 && [...text].length <= 1000);

describe("parseCommand properties", () => {
  it("never throws, whatever the text", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 2000 }),
          fc.tuple(fc.constantFrom(...KNOWN), fc.string({ unit: "binary" })).map(([a, b]) => `${a} ${b}`),
          fc
            .array(fc.oneof(fc.constantFrom(...KNOWN, "R-7KQ2", "1h", "db", "&lt;", " ", "\n")), {
              maxLength: 8,
            })
            .map((words) => words.join(" ")),
        ),
        (text) => {
          const parsed: ParsedCommand = parseCommand(text);
          expect(typeof parsed.kind).toBe("string");
          if (parsed.kind === "invalid") expect(parsed.message.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("survives huge input", () => {
    expect(parseCommand(`request db 1h ${"a ".repeat(500_000)}`).kind).toBe("invalid");
    expect(parseCommand(" ".repeat(1_000_000)).kind).toBe("help");
    expect(parseCommand("&lt;".repeat(250_000)).kind).toBe("invalid");
  });

  it("reads any valid request back exactly, however it is spaced and cased", () => {
    fc.assert(
      fc.property(
        randomCase("request"),
        resource,
        durationText,
        reason,
        fc.tuple(
          fc.option(whitespace, { nil: "" }),
          whitespace,
          whitespace,
          whitespace,
          fc.option(whitespace, { nil: "" }),
        ),
        (command, res, [seconds, duration], why, [lead, s1, s2, s3, trail]) => {
          const slackText = `${lead}${command}${s1}${res}${s2}${duration}${s3}${escapeMrkdwn(why)}${trail}`;
          expect(parseCommand(slackText)).toEqual({
            kind: "request",
            resource: res,
            durationSec: seconds,
            reason: why,
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it("gives help or invalid for anything that does not start with a known subcommand", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        const first = text.trim().split(/\s+/)[0] ?? "";
        fc.pre(!KNOWN.includes(first.replace(/[A-Z]/g, (c) => c.toLowerCase())));
        const kind = parseCommand(text).kind;
        expect(["help", "invalid"]).toContain(kind);
        if (kind === "help") expect(text.trim()).toBe("");
      }),
      { numRuns: 1000 },
    );
  });

  it("never returns a reason longer than 1,000 characters or with outer whitespace", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("request db 1h ", "breakglass db 1h ", "revoke R-7KQ2 ", "extend R-7KQ2 1h "),
        fc.string({ unit: "binary", maxLength: 1200 }),
        (prefix, tail) => {
          const parsed = parseCommand(prefix + tail);
          if ("reason" in parsed && parsed.reason !== undefined) {
            expect([...parsed.reason].length).toBeLessThanOrEqual(1000);
            expect(parsed.reason.trim()).toBe(parsed.reason);
            expect(parsed.reason.length).toBeGreaterThan(0);
          }
        },
      ),
    );
  });
});
