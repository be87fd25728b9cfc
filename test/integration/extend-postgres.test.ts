import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clickExtension, extend, extensionCardsOf } from "../support/extensions.js";
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
  h = await startHarness({ label: "pgextend", policy, env: { STAGING_DB_ADMIN_URL: target.adminUrl } });
});
afterAll(async () => {
  await h?.stop();
  await target?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("extending a postgres grant", () => {
  it("keeps the live session and accepts logins after the original expiry; ends at the new one", async () => {
    const id = await fileRequest(h, "U0ALICE", "staging-db 6s long migration");
    await h.click("U0LEAD1", "jit_approve", id);
    const active = await waitForStatus(h, id, "ACTIVE");
    const originalExpiry = active.grant?.expiresAt as Date;
    const dm = await waitFor(() => dmsTo(h, "U0ALICE").find((m) => m.text.includes("granted")));
    const creds = credentialsFrom(dm.text);
    const url = target.urlFor(creds.username as string, creds.password as string);
    const session = new pg.Client({ connectionString: url });
    session.on("error", () => undefined); // the final revocation terminates it
    await session.connect();

    await extend(h, "U0ALICE", `${id} 8s not done yet`);
    await waitFor(() => extensionCardsOf(h.standin, `${id}.1`).length === 1);
    await clickExtension(h, "U0LEAD1", "jit_extension_approve", `${id}.1`);
    const extended = await waitFor(async () => {
      const grant = await h.db.grant.findUnique({ where: { requestId: id } });
      return grant?.extensions === 1 ? grant : undefined;
    });
    const newExpiry = extended.expiresAt as Date;
    expect(newExpiry.getTime() - originalExpiry.getTime()).toBe(8_000);

    // The role's VALID UNTIL moved with the grant.
    const admin = new pg.Client({ connectionString: target.adminUrl });
    await admin.connect();
    const validUntil = await admin.query<{ until: Date }>(
      "SELECT rolvaliduntil AS until FROM pg_roles WHERE rolname = $1",
      [creds.username],
    );
    await admin.end();
    expect(validUntil.rows[0]?.until.getTime()).toBe(newExpiry.getTime());

    // Past the original expiry: the open session still works and new logins are still accepted.
    await sleep(Math.max(0, originalExpiry.getTime() + 1_500 - Date.now()));
    expect(Date.now()).toBeLessThan(newExpiry.getTime());
    expect((await session.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    expect(await canLogIn(url)).toBe(true);
    expect((await h.db.accessRequest.findUnique({ where: { id } }))?.status).toBe("ACTIVE");

    await waitForStatus(h, id, "EXPIRED", 15_000);
    await expect(session.query("SELECT 1")).rejects.toThrow();
    await session.end().catch(() => undefined);
    expect(await canLogIn(url)).toBe(false);
  });
});
