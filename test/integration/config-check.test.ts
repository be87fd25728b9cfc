import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "jit-config-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("jit config check", () => {
  it("names a requiredApprovals the listed approvers can never reach, by its path", async () => {
    const file = join(dir, "unreachable.yaml");
    writeFileSync(
      file,
      `resources:
  - id: two-keys
    name: Two keys
    provider: webhook
    settings: { url: "https://hooks.example.com/jit", secret: "0123456789abcdef" }
    maxDuration: 1h
    requesters: { users: [U0LEAD1, U0DEV] }
    approvers: { users: [U0LEAD1, U0LEAD2] }
    requiredApprovals: 2
`,
    );
    const result = await runCli(["config", "check", file], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "resources[0].requiredApprovals: is 2 but a request by U0LEAD1 (a requester who is also an approver",
    );
  }, 30_000);

  it("accepts the example policy file", async () => {
    const result = await runCli(["config", "check", "jit.config.example.yaml"], {
      STAGING_DB_ADMIN_URL: "postgresql://admin:pw@staging-db:5432/app",
      DEPLOY_HOOK_URL: "https://deploy.example.com/jit",
      DEPLOY_HOOK_SECRET: "a-long-enough-shared-secret",
    });
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("OK (2 resource(s): staging-db, deploy-hook)");
  }, 30_000);
});
