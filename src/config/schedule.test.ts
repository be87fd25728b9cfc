import { describe, expect, it } from "vitest";
import { ConfigError } from "./env.js";
import { parsePolicy } from "./load-policy.js";

const policy = (audit: string) => `
audit: ${audit}
resources:
  - id: db
    name: DB
    provider: webhook
    settings: { url: "https://hooks.example.com/jit", secret: "webhook-secret-0123456789" }
    maxDuration: 1h
    approvers: { users: [U0LEAD1] }
`;

function problemsOf(text: string): string[] {
  try {
    parsePolicy(text, {});
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("audit.schedule and audit.timezone", () => {
  it("accept a cron expression (5 fields, or 6 with seconds) in an IANA time zone", () => {
    expect(
      problemsOf(policy('{ channel: C0AUDIT, schedule: "0 9 * * 1-5", timezone: Europe/Paris }')),
    ).toEqual([]);
    expect(problemsOf(policy('{ schedule: "*/30 * * * * *" }'))).toEqual([]);
  });

  it("refuse a time zone Intl does not know and a malformed cron, naming the key", () => {
    const problems = problemsOf(policy('{ schedule: "61 * * * *", timezone: Mars/Base }'));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^audit\.schedule: "61 \* \* \* \*" is not a cron expression/);
    expect(problems[1]).toBe(
      'audit.timezone: "Mars/Base" is not a time zone; use an IANA name like UTC, Europe/Paris or America/New_York',
    );
  });
});
