/**
 * `jit policy explain` and `jit config schema`, through the real CLI. Groups are resolved through
 * the Slack stand-in when a bot token is set, and listed as unresolved ids otherwise.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { type SlackStandin, startSlackStandin } from "../support/slack-standin.js";

let standin: SlackStandin;
let file: string;

const POLICY = `
admins: [U0ADMIN]
identities:
  U0BOB: { github: bob-gh }
resources:
  - id: deploy-hook
    name: Deploy hook
    provider: webhook
    settings: { url: "https://hooks.example/jit", secret: "0123456789abcdef0123" }
    maxDuration: 30m
    requesters: { users: [U0ALICE], groups: [S0GONE] }
    approvers: { users: [U0LEAD1], groups: [S0SRE] }
    requiredApprovals: 2
  - id: platform-team
    name: Platform team
    provider: github
    settings: { org: acme, team: platform, token: "ghp_0123456789abcdef" }
    maxDuration: 8h
    approvers: { users: [U0LEAD1] }
`;

beforeAll(async () => {
  standin = await startSlackStandin();
  standin.setUsergroup("S0SRE", ["U0SRE1", "U0SRE2"]);
  file = join(mkdtempSync(join(tmpdir(), "jit-explain-")), "policy.yaml");
  writeFileSync(file, POLICY);
});
afterAll(() => standin?.close());

const withSlack = () => ({ JIT_CONFIG: file, SLACK_BOT_TOKEN: "xoxb-explain", SLACK_API_URL: standin.url });

describe("jit policy explain", () => {
  it("resolves groups through Slack, and says who may request and approve, and why not", async () => {
    const sre = await runCli(["policy", "explain", "deploy-hook", "--user", "U0SRE1"], withSlack());
    expect(sre.stderr).toBe("");
    expect(sre.code).toBe(0);
    expect(sre.stdout).toContain("who approves: U0LEAD1, S0SRE (U0SRE1, U0SRE2)");
    expect(sre.stdout).toContain("S0GONE (could not be resolved through Slack)");
    expect(sre.stdout).toContain(
      "approvals needed: 2 from distinct approvers; nobody approves their own request",
    );
    expect(sre.stdout).toMatch(
      /U0SRE1:\n {4}may not request it: not among the requesters \(some groups could not be resolved/,
    );
    expect(sre.stdout).toContain("may approve others' requests, never their own");

    const alice = await runCli(["policy", "explain", "platform-team", "--user", "U0ALICE"], withSlack());
    expect(alice.stdout).toContain("identity needed: github");
    expect(alice.stdout).toContain(
      "a request would be refused: no github identity; add identities: { U0ALICE: { github: <…> } }",
    );
    expect(alice.stdout).toContain("may not approve: not among the approvers");
    const bob = await runCli(["policy", "explain", "platform-team", "--user", "U0BOB"], withSlack());
    expect(bob.stdout).toContain("grants go to github bob-gh");
  }, 60_000);

  it("lists groups as ids without a bot token, and names an unknown resource", async () => {
    const offline = await runCli(["policy", "explain", "deploy-hook"], {
      JIT_CONFIG: file,
      SLACK_BOT_TOKEN: "",
    });
    expect(offline.code).toBe(0);
    expect(offline.stdout).toContain("S0SRE (members not resolved: no Slack bot token)");
    const unknown = await runCli(["policy", "explain", "nope"], { JIT_CONFIG: file, SLACK_BOT_TOKEN: "" });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no resource "nope" (known: deploy-hook, platform-team)');
  }, 60_000);
});

describe("jit config schema", () => {
  it("prints a draft 2020-12 JSON Schema of the file as written", async () => {
    const printed = await runCli(["config", "schema"], {});
    expect(printed.code).toBe(0);
    const schema = JSON.parse(printed.stdout) as Record<string, unknown> & {
      properties: Record<string, unknown>;
    };
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.required).toEqual(["resources"]); // everything else has a default
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["minDuration", "grantTimeout", "maxPendingPerUser", "identities", "resources"]),
    );
    expect(schema.properties.minDuration).toMatchObject({ type: "string" });
  }, 30_000);
});
