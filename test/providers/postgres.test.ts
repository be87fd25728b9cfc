import { inspect } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresProvider } from "../../src/providers/postgres/provider.js";
import { roleNameFor } from "../../src/providers/postgres/role-name.js";
import { PostgresSettings } from "../../src/providers/postgres/settings.js";
import type { GrantContext, GrantResult } from "../../src/providers/types.js";
import { ProviderError } from "../../src/providers/types.js";
import { login } from "../support/pg-login.js";
import { type PrivatePostgres, READWRITE_ROLE, startPrivatePostgres } from "../support/private-postgres.js";
import { waitFor } from "../support/wait.js";
import { grantContext, providerConformance } from "./conformance.js";

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error,
  );
}

function secretUrl(result: GrantResult): string {
  const url = result.secrets?.url;
  if (!url) throw new Error("grant returned no connection URL secret");
  return url;
}

let cluster: PrivatePostgres;
let admin: pg.Pool;

async function roleRow(role: string) {
  const result = await admin.query<{ rolcanlogin: boolean; rolvaliduntil: Date | null; rolinherit: boolean }>(
    "SELECT rolcanlogin, rolvaliduntil, rolinherit FROM pg_roles WHERE rolname = $1",
    [role],
  );
  return result.rows[0];
}

beforeAll(async () => {
  cluster = await startPrivatePostgres();
  // A pool, not a client: the outage test restarts the server under it.
  admin = new pg.Pool({ connectionString: cluster.adminUrl, max: 2 });
  admin.on("error", () => undefined);
});

afterAll(async () => {
  await admin?.end().catch(() => undefined);
  await cluster?.stop();
});

providerConformance("postgres", async () => {
  const provider = new PostgresProvider({ url: cluster.adminUrl, roles: [READWRITE_ROLE] });
  let broken: PostgresProvider | undefined;
  let paused = false;
  return {
    provider,
    async hasAccess(ctx: GrantContext, granted: GrantResult | undefined) {
      if (!granted) return (await roleRow(roleNameFor(ctx)))?.rolcanlogin === true;
      const client = await login(secretUrl(granted));
      if (!client) return false;
      try {
        await client.query("INSERT INTO public.items (note) VALUES ($1)", [ctx.grantId]);
        await client.query("SELECT count(*) FROM public.items");
        return true;
      } finally {
        await client.end();
      }
    },
    async breakProvider() {
      await cluster.pause();
      paused = true;
    },
    breakPermanently() {
      broken = new PostgresProvider({ url: cluster.adminUrl, roles: [READWRITE_ROLE, "no_such_role"] });
      return broken;
    },
    async restoreProvider() {
      if (paused) await cluster.resume();
      paused = false;
      await broken?.close();
      broken = undefined;
    },
    async cleanup() {
      await provider.close();
    },
  };
});

describe("postgres provider against a password-checking cluster", () => {
  let provider: PostgresProvider;

  beforeAll(() => {
    provider = new PostgresProvider({ url: cluster.adminUrl, roles: [READWRITE_ROLE] });
  });

  afterAll(async () => {
    await provider?.close();
  });

  it("the cluster really checks passwords", async () => {
    expect(await login(cluster.urlFor("postgres", "not-the-password"))).toBeUndefined();
  });

  it("issues a strong password that logs in and carries app_readwrite's privileges, and nothing more", async () => {
    const ctx = grantContext();
    const result = await provider.grant(ctx);
    const role = roleNameFor(ctx);
    const password = result.secrets?.password ?? "";
    // 24 bytes from the CSPRNG, base64url: exactly 32 characters of that alphabet, no padding.
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(result.details).toEqual({
      username: role,
      host: "127.0.0.1",
      port: String(cluster.port),
      database: "app",
      connection: `postgresql://${role}@127.0.0.1:${cluster.port}/app`,
    });
    expect(result.secrets?.url).toBe(`postgresql://${role}:${password}@127.0.0.1:${cluster.port}/app`);

    const client = await login(cluster.urlFor(role, password));
    if (!client) throw new Error("login with the issued password was refused");
    try {
      const who = await client.query<{ current_user: string }>("SELECT current_user");
      expect(who.rows[0]?.current_user).toBe(role);
      const inserted = await client.query<{ id: number }>(
        "INSERT INTO public.items (note) VALUES ('hello') RETURNING id",
      );
      expect(inserted.rows[0]?.id).toBeGreaterThan(0);
      await expect(client.query("SELECT * FROM public.secrets")).rejects.toMatchObject({ code: "42501" });
      await expect(client.query("DELETE FROM public.items")).rejects.toMatchObject({ code: "42501" });
    } finally {
      await client.end();
    }
    const row = await roleRow(role);
    expect(row?.rolinherit).toBe(true);
    await provider.revoke(ctx);
  });

  it("sends the server a SCRAM verifier, so the stored password is never plaintext", async () => {
    const ctx = grantContext();
    const result = await provider.grant(ctx);
    const stored = await admin.query<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
      [roleNameFor(ctx)],
    );
    expect(stored.rows[0]?.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(stored.rows[0]?.rolpassword).not.toContain(result.secrets?.password);
    await provider.revoke(ctx);
  });

  it("sets VALID UNTIL to expiresAt, and an expired grant cannot log in", async () => {
    const expiresAt = new Date(Date.now() + 42 * 60_000 + 123);
    const ctx = grantContext({ expiresAt });
    await provider.grant(ctx);
    expect((await roleRow(roleNameFor(ctx)))?.rolvaliduntil?.getTime()).toBe(expiresAt.getTime());
    await provider.revoke(ctx);

    const expired = grantContext({ expiresAt: new Date(Date.now() - 1000) });
    const result = await provider.grant(expired);
    expect(await login(secretUrl(result))).toBeUndefined();
    await provider.revoke(expired);
  });

  it("granting again rotates the password: the old one stops working, the new one works", async () => {
    const ctx = grantContext();
    const first = await provider.grant(ctx);
    const later = new Date(Date.now() + 2 * 60 * 60_000);
    const second = await provider.grant({ ...ctx, expiresAt: later });
    expect(second.secrets?.password).not.toBe(first.secrets?.password);
    expect(await login(secretUrl(first))).toBeUndefined();
    const client = await login(secretUrl(second));
    expect(client).toBeDefined();
    await client?.end();
    expect((await roleRow(roleNameFor(ctx)))?.rolvaliduntil?.getTime()).toBe(later.getTime());
    await provider.revoke(ctx);
  });

  it("concurrent grants of the same grantId both succeed (one role, last password wins)", async () => {
    const ctx = grantContext();
    const results = await Promise.all([provider.grant(ctx), provider.grant(ctx), provider.grant(ctx)]);
    const working = await Promise.all(results.map((r) => login(secretUrl(r))));
    expect(working.filter(Boolean)).toHaveLength(1);
    await Promise.all(working.map((c) => c?.end()));
    await provider.revoke(ctx);
  });

  it("after revoke, login is refused and the role is gone", async () => {
    const ctx = grantContext();
    const result = await provider.grant(ctx);
    await provider.revoke(ctx);
    const error = await failureOf(new pg.Client({ connectionString: secretUrl(result) }).connect());
    expect(error).toMatchObject({ code: "28P01" });
    expect(await roleRow(roleNameFor(ctx))).toBeUndefined();
  });

  it("terminates a session opened before the revoke", async () => {
    const ctx = grantContext();
    const result = await provider.grant(ctx);
    const client = await login(secretUrl(result));
    if (!client) throw new Error("login refused");
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    await provider.revoke(ctx);
    // A query needing no privilege: only a terminated session can fail it.
    const error = await failureOf(client.query("SELECT 1"));
    expect(String((error as Error).message)).toMatch(/terminat|connection error/i);
    await client.end().catch(() => undefined);
    await waitFor(
      async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rowCount === 0,
      { message: "the backend of the revoked session is still alive" },
    );
  });

  it("derives safe, deterministic role names from odd Slack ids", async () => {
    const oddIds = [
      'U123"; DROP ROLE postgres; --',
      "Ünïcødé-用户",
      "",
      "x".repeat(300),
      "UPPER.case@Team",
      "___",
    ];
    for (const slackId of oddIds) {
      const ctx = grantContext({ requester: { slackId } });
      const role = roleNameFor(ctx);
      expect(role).toMatch(/^jit_[a-z0-9_]+$/);
      expect(role.length).toBeLessThanOrEqual(63);
      expect(roleNameFor({ grantId: ctx.grantId, requester: { slackId } })).toBe(role);
      const result = await provider.grant(ctx);
      expect(result.details.username).toBe(role);
      const client = await login(secretUrl(result));
      expect(client).toBeDefined();
      await client?.end();
      await provider.revoke(ctx);
    }
    const a = grantContext();
    const b = grantContext({ requester: a.requester });
    expect(roleNameFor(a)).not.toBe(roleNameFor(b));
    const superuser = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = 'postgres'");
    expect(superuser.rowCount).toBe(1);
  });

  it("never puts the issued or the admin password in errors, and a failed rotation changes nothing", async () => {
    const ctx = grantContext();
    const result = await provider.grant(ctx);
    const issued = result.secrets?.password ?? "";
    const adminPassword = decodeURIComponent(new URL(cluster.adminUrl).password);
    const misconfigured = new PostgresProvider({
      url: cluster.adminUrl,
      roles: [READWRITE_ROLE, "missing_role"],
    });
    try {
      const error = await failureOf(misconfigured.grant(ctx));
      expect(error).toBeInstanceOf(ProviderError);
      expect((error as ProviderError).transient).toBe(false);
      expect((error as ProviderError).message).toContain("missing_role");
      const dump = `${String(error)} ${inspect(error, { depth: 10 })}`;
      expect(dump).not.toContain(issued);
      expect(dump).not.toContain(adminPassword);
      expect(dump).not.toContain("SCRAM-SHA-256$");
    } finally {
      await misconfigured.close();
    }
    // The rotation ran in a transaction that rolled back: the first password still works.
    const client = await login(secretUrl(result));
    expect(client).toBeDefined();
    await client?.end();
    await provider.revoke(ctx);
  });

  it("a wrong admin password is permanent and does not leak; an unreachable server is transient", async () => {
    const wrong = cluster.urlFor("postgres", "Wr0ng-admin-passw0rd");
    const badAuth = new PostgresProvider({ url: wrong, roles: [READWRITE_ROLE] });
    const unreachable = new PostgresProvider(
      { url: "postgresql://postgres:Unre4chable-passw0rd@127.0.0.1:1/app", roles: [READWRITE_ROLE] },
      { connectTimeoutMs: 1000 },
    );
    try {
      const authError = await failureOf(badAuth.grant(grantContext()));
      expect(authError).toMatchObject({ name: "ProviderError", transient: false });
      expect(inspect(authError, { depth: 10 })).not.toContain("Wr0ng-admin-passw0rd");
      const netError = await failureOf(unreachable.revoke(grantContext()));
      expect(netError).toMatchObject({ name: "ProviderError", transient: true });
      expect(inspect(netError, { depth: 10 })).not.toContain("Unre4chable-passw0rd");
      await expect(unreachable.check()).rejects.toMatchObject({ transient: true });
    } finally {
      await badAuth.close();
      await unreachable.close();
    }
  });

  it("check() reports roles that do not exist as a permanent error", async () => {
    const misconfigured = new PostgresProvider({ url: cluster.adminUrl, roles: ["ghost_role"] });
    try {
      await expect(misconfigured.check()).rejects.toMatchObject({
        transient: false,
        message: expect.stringContaining("ghost_role"),
      });
    } finally {
      await misconfigured.close();
    }
  });

  it("close() is idempotent", async () => {
    const extra = new PostgresProvider({ url: cluster.adminUrl, roles: [READWRITE_ROLE] });
    await extra.check();
    await extra.close();
    await expect(extra.close()).resolves.toBeUndefined();
  });
});

describe("PostgresSettings", () => {
  it("accepts a postgres URL and at least one role", () => {
    expect(PostgresSettings.parse({ url: "postgres://u:p@db:5432/app", roles: ["r"] })).toEqual({
      url: "postgres://u:p@db:5432/app",
      roles: ["r"],
    });
    expect(PostgresSettings.safeParse({ url: "postgresql://db/app", roles: ["a", "b"] }).success).toBe(true);
  });

  it("accepts an optional reassignOwnedTo role name, and nothing else there", () => {
    const base = { url: "postgres://db/app", roles: ["r"] };
    expect(PostgresSettings.parse({ ...base, reassignOwnedTo: "jit_graveyard" }).reassignOwnedTo).toBe(
      "jit_graveyard",
    );
    expect(PostgresSettings.parse(base).reassignOwnedTo).toBeUndefined();
    for (const bad of ["", "x".repeat(64), 7, ["a"]]) {
      expect(PostgresSettings.safeParse({ ...base, reassignOwnedTo: bad }).success).toBe(false);
    }
  });

  it("rejects other schemes, empty roles and unknown keys", () => {
    expect(PostgresSettings.safeParse({ url: "mysql://db/app", roles: ["r"] }).success).toBe(false);
    expect(PostgresSettings.safeParse({ url: "not a url", roles: ["r"] }).success).toBe(false);
    expect(PostgresSettings.safeParse({ url: "postgres://db/app", roles: [] }).success).toBe(false);
    expect(PostgresSettings.safeParse({ url: "postgres://db/app", roles: [""] }).success).toBe(false);
    expect(PostgresSettings.safeParse({ url: "postgres://db/app", roles: ["r"], extra: 1 }).success).toBe(
      false,
    );
  });
});
