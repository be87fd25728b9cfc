import { describe, expect, it } from "vitest";
import { identitiesOf } from "../app/provider-context.js";
import { ConfigError } from "./env.js";
import { parsePolicy } from "./load-policy.js";

const RESOURCES = `
resources:
  - id: hook
    name: Hook
    provider: webhook
    settings: { url: "https://hooks.example.com/jit", secret: "0123456789abcdef" }
    maxDuration: 1h
    approvers: { users: [U0LEAD1] }
`;

function problems(yaml: string): string[] {
  try {
    parsePolicy(yaml, {});
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("policy identities", () => {
  it("defaults to none, and reads a map of Slack user id to identity names", () => {
    expect(parsePolicy(RESOURCES, {}).identities).toEqual({});
    const policy = parsePolicy(
      `identities:\n  U0LEAD1: { github: octocat, email: lead1@acme.test, aws: lead1 }\n${RESOURCES}`,
      {},
    );
    expect(policy.identities).toEqual({
      U0LEAD1: { github: "octocat", email: "lead1@acme.test", aws: "lead1" },
    });
  });

  it("names each bad entry by its path", () => {
    const found = problems(
      `identities:\n  lead1: { github: octocat }\n  U0LEAD2: { GitHub: x, email: "" }\n${RESOURCES}`,
    );
    expect(found).toContain("identities.lead1: must be a Slack user id like U0123ABCD");
    expect(found.join("\n")).toMatch(
      /identities\.U0LEAD2\.GitHub.*must be an identity name like github, email or aws/,
    );
    expect(found.join("\n")).toMatch(/identities\.U0LEAD2\.email.*must not be empty/);
  });

  it("merges the policy's identities over the Slack e-mail", () => {
    const deps = {
      policy: parsePolicy(`identities:\n  U0A: { email: a@corp.test, github: a }\n${RESOURCES}`, {}),
    };
    expect(identitiesOf(deps, "U0A", "a@slack.test")).toEqual({ email: "a@corp.test", github: "a" });
    expect(identitiesOf(deps, "U0B", "b@slack.test")).toEqual({ email: "b@slack.test" });
    expect(identitiesOf(deps, "U0B", undefined)).toEqual({});
  });
});
