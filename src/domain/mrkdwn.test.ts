import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeMrkdwn, quote, unescapeMrkdwn } from "./mrkdwn.js";

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

  it("never leaves < or > and round-trips through unescapeMrkdwn", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), fc.stringMatching(/^[<>&a-z;!@|]*$/)), (text) => {
        const escaped = escapeMrkdwn(text);
        expect(escaped).not.toMatch(/[<>]/);
        // Every & in the output starts one of the three entities.
        expect(escaped.replace(/&(amp|lt|gt);/g, "")).not.toContain("&");
        expect(unescapeMrkdwn(escaped)).toBe(text);
      }),
      { numRuns: 1000 },
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
