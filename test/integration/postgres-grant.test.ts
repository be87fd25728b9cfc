import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";
import { dmsTo, fileRequest, waitForStatus } from "../support/lifecycle.js";
import { canLogIn, credentialsFrom } from "../support/pg-login.js";
import { type PrivatePostgres, startPrivatePostgres } from "../support/private-postgres.js";
import { waitFor } from "../support/wait.js";

let target: PrivatePostgres;
let h: Harness;

const policy = `
minDuration: 1s
admins: [U0ADMIN]
resources:
  - id: staging-db
    name: Staging database
    provider: postgres
    settings: { url: "\${STAGING_DB_ADMIN_URL}", roles: [app_readwrite] }
    maxDuration: 4h
    approvers: { users: [U0LEAD1] }
`;

beforeAll(async () => {
  target = await startPrivatePostgres();
  h = await startHarness({ label: "pggrant", policy, env: { STAGING_DB_ADMIN_URL: target.adminUrl } });
});
afterAll(async () => {
  await h?.stop();
  await target?.stop();
});

describe("postgres provider, end to end through Slack", () => {
  it("DMs working credentials, then revokes them at expiry and ends open sessions", async () => {
    const id = await fileRequest(h, "U0ALICE", "staging-db 4s fix migration");
    await h.click("U0LEAD1", "jit_approve", id);
    await waitForStatus(h, id, "ACTIVE");
    const dm = await waitFor(() => dmsTo(h, "U0ALICE").find((m) => m.text.includes("granted")));
    const creds = credentialsFrom(dm.text);
    expect(creds.username).toMatch(/^jit_/);
    expect(creds.password).toMatch(/^[A-Za-z0-9_-]{32}$/); // 24 random bytes, base64url
    const url = target.urlFor(creds.username as string, creds.password as string);

    // The credentials log in and carry the role's rights, and only those.
    const session = new pg.Client({ connectionString: url });
    session.on("error", () => undefined); // the revocation will terminate it: that is the point
    await session.connect();
    await session.query("INSERT INTO items (note) VALUES ('from jit')");
    expect((await session.query("SELECT count(*)::int AS n FROM items")).rows[0].n).toBeGreaterThan(0);
    await expect(session.query("SELECT * FROM secrets")).rejects.toThrow(/permission denied/);
    // What the grantee makes during its window, a SECURITY DEFINER function above all, must not
    // outlive it under another owner (handed to a superuser admin, it would be a lasting back door).
    await session.query(
      "CREATE FUNCTION public.jit_e2e_backdoor() RETURNS text LANGUAGE sql SECURITY DEFINER AS 'SELECT current_user::text'",
    );

    // The password is stored nowhere: not in the audit history, not in any grant row.
    const audit = JSON.stringify(await h.db.auditEvent.findMany(), (_k, v) =>
      typeof v === "bigint" ? String(v) : v,
    );
    const grants = JSON.stringify(await h.db.grant.findMany());
    expect(audit).not.toContain(creds.password);
    expect(grants).not.toContain(creds.password);
    expect(audit).toContain(creds.username);

    await waitForStatus(h, id, "EXPIRED", 15_000);
    await expect(session.query("SELECT 1")).rejects.toThrow();
    await session.end().catch(() => undefined);
    expect(await canLogIn(url)).toBe(false);
    const admin = new pg.Client({ connectionString: target.adminUrl });
    await admin.connect();
    const roles = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [creds.username]);
    const backdoor = await admin.query("SELECT 1 FROM pg_proc WHERE proname = 'jit_e2e_backdoor'");
    await admin.end();
    expect(roles.rowCount).toBe(0);
    expect(backdoor.rowCount).toBe(0);
  });

  it("marks a grant failed and tells the requester when the target database is unreachable", async () => {
    await target.pause();
    try {
      const id = await fileRequest(h, "U0ALICE", "staging-db 1m while down");
      await h.click("U0LEAD1", "jit_approve", id);
      const failed = await waitForStatus(h, id, "FAILED", 30_000);
      expect(failed.grant?.lastError).toBeTruthy();
      expect(failed.grant?.lastError).not.toContain(new URL(target.adminUrl).password);
      await waitFor(() => dmsTo(h, "U0ALICE").some((m) => m.text.includes("could not be granted")), {
        timeout: 10_000,
      });
    } finally {
      await target.resume();
    }
  });
});
