/**
 * No log level ever logs a secret (issue 7 item 4). At debug and trace, Bolt and the Slack Web API
 * client would log the bodies of the requests they send, and the credentials DM is one of them.
 * A real postgres grant runs end to end with the log captured, and nothing secret may appear in it.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, SIGNING_SECRET, startHarness } from "../support/harness.js";
import { dmsTo, fileRequest, waitForStatus } from "../support/lifecycle.js";
import { captureLog } from "../support/log-capture.js";
import { type PrivatePostgres, startPrivatePostgres } from "../support/private-postgres.js";
import { waitFor } from "../support/wait.js";

const policy = `
minDuration: 1s
admins: [U0ADMIN]
approvalsChannel: C0APPROVALS
resources:
  - id: staging-db
    name: Staging database
    provider: postgres
    settings: { url: "\${STAGING_DB_ADMIN_URL}", roles: [app_readwrite] }
    maxDuration: 4h
    approvers: { users: [U0LEAD1] }
`;

let target: PrivatePostgres;

beforeAll(async () => {
  target = await startPrivatePostgres();
});
afterAll(async () => {
  await target?.stop();
});

describe.each(["debug", "trace"])("at LOG_LEVEL=%s", (level) => {
  let h: Harness;
  const log = captureLog();
  const botToken = `xoxb-${randomBytes(12).toString("hex")}`;

  beforeAll(async () => {
    h = await startHarness({
      label: `logsecrets-${level}`,
      policy,
      env: { STAGING_DB_ADMIN_URL: target.adminUrl, LOG_LEVEL: level, SLACK_BOT_TOKEN: botToken },
      logDestination: log.stream,
    });
  });
  afterAll(() => h?.stop());

  it("a grant and its revocation log no password, connection URL, token or signing secret", async () => {
    const id = await fileRequest(h, "U0ALICE", "staging-db 2s read the logs");
    await h.click("U0LEAD1", "jit_approve", id);
    const dm = await waitFor(() => dmsTo(h, "U0ALICE").find((m) => m.text.includes("granted")));
    const password = /^password: `?([^`\n]+)`?$/m.exec(dm.text)?.[1];
    const connectionUrl = /postgres(?:ql)?:\/\/[^\s`>|]+/.exec(dm.text)?.[0];
    expect(password, dm.text).toBeTruthy();
    expect(connectionUrl, dm.text).toBeTruthy();
    await waitForStatus(h, id, "EXPIRED", 15_000);

    const text = log.lines.join("");
    // The capture works: it holds the app's own lines.
    expect(text).toContain('"msg":"slack interaction"');
    const secrets = {
      password: password as string,
      "encoded password": encodeURIComponent(password as string),
      "connection URL": connectionUrl as string,
      "bot token": botToken,
      "signing secret": SIGNING_SECRET,
      "admin password": decodeURIComponent(new URL(target.adminUrl).password),
    };
    for (const [name, secret] of Object.entries(secrets)) {
      expect(text.includes(secret), `${name} appears in the log`).toBe(false);
    }
  }, 40_000);
});
