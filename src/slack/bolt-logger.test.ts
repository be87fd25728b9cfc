import { describe, expect, it } from "vitest";
import { createLogger, scrubSecrets } from "../log.js";
import { boltLogger } from "./bolt-logger.js";

function captured() {
  const lines: string[] = [];
  const logger = createLogger("trace", { write: (line: string) => void lines.push(line) });
  return { lines, bolt: boltLogger(logger) };
}

describe("the Bolt / Web API logger", () => {
  it("drops library debug output even when LOG_LEVEL is trace", () => {
    const { lines, bolt } = captured();
    bolt.debug('http request body: {"channel":"D0ALICE","text":"password: hunter2"}');
    expect(lines).toEqual([]);
  });

  it("keeps info, warn and error lines, scrubbed", () => {
    const { lines, bolt } = captured();
    bolt.warn("http request failed", "connect ECONNREFUSED 127.0.0.1:443");
    bolt.error("Slack API error: channel_not_found");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual([
      "http request failed connect ECONNREFUSED 127.0.0.1:443",
      "Slack API error: channel_not_found",
    ]);
  });

  it.each([
    ["a bot token", "token xoxb-123-456-abcDEF was revoked", "token [redacted token] was revoked"],
    ["an app token", "bad xapp-1-A0-123-abc", "bad [redacted token]"],
    [
      "credentials in a URL",
      "cannot reach postgresql://jit_ab12:s3cr3t@db.internal:5432/app",
      "cannot reach postgresql://[redacted]@db.internal:5432/app",
    ],
    ["a JSON text field", '{"channel":"D0A","text":"password: x"}', '{"channel":"D0A","text":[redacted]}'],
    ["a password field", "password=hunter2 retry", "password=[redacted] retry"],
  ])("scrubs %s", (_name, input, expected) => {
    expect(scrubSecrets(input)).toBe(expected);
  });
});
