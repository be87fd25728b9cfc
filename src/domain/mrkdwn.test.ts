import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeMrkdwn, escapeMrkdwnWithin, quote, stripBidi, unescapeMrkdwn } from "./mrkdwn.js";

describe("escapeMrkdwn", () => {
  it("escapes exactly &, < and > the way Slack asks", () => {
    expect(escapeMrkdwn("a & b < c > d")).toBe("a &amp; b &lt; c &gt; d");
    expect(escapeMrkdwn("*bold* _it_ `code` ~strike~")).toBe("*bold* _it_ `code` ~strike~");
  });

  it.each([
    "<!channel>",
    "<!here>",
    "<@U0ADMIN>",
    "<#C0123|general>",
    "<https://evil.example|click me>",
    "<!subteam^S0SRE>",
  ])("defuses %s", (text) => {
    const escaped = escapeMrkdwn(text);
    expect(escaped).not.toMatch(/[<>]/);
    expect(escaped.startsWith("&lt;")).toBe(true);
  });

  it("escapes an already escaped entity again, so it shows literally", () => {
    expect(escapeMrkdwn("&lt;!channel&gt;")).toBe("&amp;lt;!channel&amp;gt;");
  });

  it("never leaves < or > and round-trips through unescapeMrkdwn (bidi controls aside)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), fc.stringMatching(/^[<>&a-z;!@|]*$/)), (text) => {
        const escaped = escapeMrkdwn(text);
        expect(escaped).not.toMatch(/[<>]/);
        // Every & in the output starts one of the three entities.
        expect(escaped.replace(/&(amp|lt|gt);/g, "")).not.toContain("&");
        expect(unescapeMrkdwn(escaped)).toBe(stripBidi(text));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("bidirectional-text controls", () => {
  const CONTROLS = [
    "\u202A",
    "\u202B",
    "\u202C",
    "\u202D",
    "\u202E",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200E",
    "\u200F",
    "\u061C",
  ];

  it.each(CONTROLS.map((c) => [c.codePointAt(0)?.toString(16), c]))("drops U+%s", (_hex, control) => {
    expect(stripBidi(`ok${control}ay`)).toBe("okay");
    expect(escapeMrkdwn(`fix ${control}<@U0ADMIN>`)).toBe("fix &lt;@U0ADMIN&gt;");
  });

  it("keeps right-to-left letters and other text as they are", () => {
    expect(stripBidi("שלום world, مرحبا — ok")).toBe("שלום world, مرحبا — ok");
  });
});

describe("escapeMrkdwnWithin", () => {
  it("returns the escaped text when it fits", () => {
    expect(escapeMrkdwnWithin("a & b", 20)).toBe("a &amp; b");
  });

  it("cuts between entities, never inside one, and stays within the limit", () => {
    const cut = escapeMrkdwnWithin("&".repeat(1000), 3000);
    expect(cut.length).toBeLessThanOrEqual(3000);
    expect(cut.endsWith("&amp;…")).toBe(true);
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.integer({ min: 1, max: 80 }), (text, max) => {
        const out = escapeMrkdwnWithin(text, max);
        expect(out.length).toBeLessThanOrEqual(Math.max(max, 1));
        expect(out.replace(/…$/, "").replace(/&(amp|lt|gt);/g, "")).not.toMatch(/[&<>]/);
      }),
    );
  });
});

describe("unescapeMrkdwn", () => {
  it("decodes the three entities Slack uses, in one pass", () => {
    expect(unescapeMrkdwn("a &amp; b &lt;c&gt;")).toBe("a & b <c>");
    expect(unescapeMrkdwn("&amp;lt;")).toBe("&lt;");
  });

  it("leaves every other entity-like text alone", () => {
    expect(unescapeMrkdwn("&nbsp; &quot; &#60; &AMP; &amp")).toBe("&nbsp; &quot; &#60; &AMP; &amp");
  });
});

describe("quote", () => {
  it("wraps text in double quotes", () => {
    expect(quote("1x")).toBe('"1x"');
  });

  it("cuts long text at a character boundary and marks the cut", () => {
    expect(quote("abcdef", 3)).toBe('"abc…"');
    expect(quote("😀😀😀😀", 2)).toBe('"😀😀…"');
    expect(quote("abc", 3)).toBe('"abc"');
  });
});
