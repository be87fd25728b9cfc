import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GithubProvider } from "../../src/providers/github/provider.js";
import { GithubSettings } from "../../src/providers/github/settings.js";
import type { Holds } from "../../src/providers/holds.js";
import { createProvider } from "../../src/providers/registry.js";
import { ProviderError } from "../../src/providers/types.js";
import { type GithubStandin, startGithubStandin } from "../support/github-standin.js";
import { type HoldsDb, startHoldsDb } from "../support/holds-db.js";
import { grantContext, providerConformance } from "./conformance.js";

const TOKEN = "ghp_standin_token";
/** Fast retries and no 1 s spacing between writes: the behaviour is the plugins', only quicker. */
const FAST = { retryUnitMs: 5, writeSpacingMs: 0 };

let db: HoldsDb;

beforeAll(async () => {
  db = await startHoldsDb("github");
});

afterAll(async () => {
  await db?.close();
});

function provider(
  gh: GithubStandin,
  settings: Record<string, unknown>,
  holds: Holds = db.holds,
  tuning = FAST,
) {
  return new GithubProvider(
    GithubSettings.parse({ org: "acme", apiUrl: gh.url, token: TOKEN, ...settings }),
    { holds },
    tuning,
  );
}

async function failureOf(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

for (const mode of ["team", "repository"] as const) {
  providerConformance(`github (${mode})`, async () => {
    // Ada is an org member, so repository access is direct (no invitation to accept).
    const gh = await startGithubStandin({ members: ["ada-lovelace"] });
    const settings = mode === "team" ? { team: "platform" } : { repository: "app", permission: "push" };
    const p = provider(gh, settings);
    return {
      provider: p,
      sharedAccess: true,
      hasAccess: async (ctx) =>
        mode === "team"
          ? gh.teamState("platform", ctx.identities.github ?? "") !== undefined
          : gh.collaborator("app", ctx.identities.github ?? "") === "push",
      breakProvider: () => gh.setDown(true),
      breakPermanently: () =>
        provider(gh, mode === "team" ? { team: "no-such-team" } : { repository: "no-such-repo" }),
      restoreProvider: () => gh.setDown(false),
      async cleanup() {
        await p.close();
        await gh.close();
      },
    };
  });
}

describe("github provider against the GitHub stand-in", () => {
  let gh: GithubStandin;

  beforeAll(async () => {
    gh = await startGithubStandin({ users: ["ada-lovelace", "octocat", "member1"], members: ["member1"] });
  });

  afterAll(async () => {
    await gh?.close();
  });

  beforeEach(() => {
    gh.setDown(false);
    gh.clearLimits();
  });

  it("an outsider gets an invitation; the revoke deletes it so it cannot be accepted later", async () => {
    const p = provider(gh, { repository: "app", permission: "triage" });
    const ctx = grantContext({ identities: { github: "octocat" } });
    const result = await p.grant(ctx);
    expect(result.details).toMatchObject({ github: "octocat", repository: "acme/app", permission: "triage" });
    expect(result.details.invitation).toMatch(
      /^pending: accept it at https:\/\/github\.com\/acme\/app\/invitations/,
    );
    expect(gh.invitationsFor("app", "octocat").map((i) => i.permission)).toEqual(["triage"]);
    await p.revoke(ctx);
    expect(gh.invitationsFor("app", "octocat")).toEqual([]);
    expect(gh.collaborator("app", "octocat")).toBeUndefined();
  });

  it("an accepted invitation is removed as a collaborator at revoke", async () => {
    const p = provider(gh, { repository: "app" });
    const ctx = grantContext({ identities: { github: "octocat" } });
    await p.grant(ctx);
    gh.accept("app", "octocat");
    expect(gh.collaborator("app", "octocat")).toBe("push");
    await p.revoke(ctx);
    expect(gh.collaborator("app", "octocat")).toBeUndefined();
  });

  it("team membership the person had before jit survives the grant's end", async () => {
    gh.teams.get("platform")?.set("member1", "active");
    const p = provider(gh, { team: "platform" });
    const ctx = grantContext({ identities: { github: "member1" } });
    await p.grant(ctx);
    await p.revoke(ctx);
    expect(gh.teamState("platform", "member1")).toBe("active");
    gh.teams.get("platform")?.delete("member1");
  });

  it("a lower repository permission held before jit is put back, not removed", async () => {
    gh.repos.get("app")?.collaborators.set("member1", "pull");
    const p = provider(gh, { repository: "app", permission: "maintain" });
    const ctx = grantContext({ identities: { github: "member1" } });
    await p.grant(ctx);
    expect(gh.collaborator("app", "member1")).toBe("maintain");
    await p.revoke(ctx);
    expect(gh.collaborator("app", "member1")).toBe("pull");
    gh.repos.get("app")?.collaborators.delete("member1");
  });

  it("a higher permission held before jit is left alone (nothing granted, nothing removed)", async () => {
    gh.repos.get("app")?.collaborators.set("member1", "admin");
    const p = provider(gh, { repository: "app", permission: "push" });
    const ctx = grantContext({ identities: { github: "member1" } });
    const writes = () => gh.requests.filter((r) => r.method !== "GET").length;
    const before = writes();
    await p.grant(ctx);
    await p.revoke(ctx);
    expect(writes()).toBe(before);
    expect(gh.collaborator("app", "member1")).toBe("admin");
    gh.repos.get("app")?.collaborators.delete("member1");
  });

  it("revokes the login the grant was made to, even if the policy's identity changed since", async () => {
    const p = provider(gh, { team: "platform" });
    const ctx = grantContext({ identities: { github: "octocat" } });
    await p.grant(ctx);
    await p.revoke({ ...ctx, identities: { github: "member1" } });
    expect(gh.teamState("platform", "octocat")).toBeUndefined();
  });

  it("a revoke answered 404 because the token lost sight of the team is not counted as done", async () => {
    const p = provider(gh, { team: "platform" });
    const ctx = grantContext({ identities: { github: "octocat" } });
    await p.grant(ctx);
    const team = gh.teams.get("platform");
    gh.teams.delete("platform"); // the team is gone from the token's view: every call on it is 404
    const error = await failureOf(p.revoke(ctx));
    expect(error.message).toMatch(/cannot see team acme\/platform: 404/);
    if (team) gh.teams.set("platform", team);
    await p.revoke(ctx);
    expect(gh.teamState("platform", "octocat")).toBeUndefined();
  });

  it("waits out GitHub's secondary limit (403 + retry-after) and 429 through the plugins", async () => {
    const p = provider(gh, { team: "platform" });
    const ctx = grantContext({ identities: { github: "octocat" } });
    gh.limitNext("secondary", 1, 1);
    gh.limitNext("too-many", 1, 1);
    const started = Date.now();
    await p.grant(ctx);
    expect(gh.teamState("platform", "octocat")).toBe("pending");
    expect(gh.requests.filter((r) => r.status === 403 || r.status === 429).length).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeLessThan(5_000);
    await p.revoke(ctx);
  });

  it("a primary rate limit that outlasts the retries is a transient failure", async () => {
    const p = provider(gh, { team: "platform" });
    gh.limitNext("primary", 10, 1);
    const error = await failureOf(p.grant(grantContext({ identities: { github: "octocat" } })));
    expect(error.transient).toBe(true);
    expect(error.message).toMatch(/403 API rate limit exceeded/);
  });

  it("a bad token and an unknown login are permanent failures that name no secret", async () => {
    const bad = new GithubProvider(
      GithubSettings.parse({ org: "acme", apiUrl: gh.url, token: "ghp_wrong_0123456789", team: "platform" }),
      { holds: db.holds },
      FAST,
    );
    const error = await failureOf(bad.grant(grantContext({ identities: { github: "octocat" } })));
    expect(error.transient, error.message).toBe(false);
    expect(error.message).toContain("401 Bad credentials");
    expect(error.message).not.toContain("ghp_wrong");
    const unknown = await failureOf(
      provider(gh, { team: "platform" }).grant(grantContext({ identities: { github: "nobody" } })),
    );
    expect(unknown.transient).toBe(false);
  });

  it("refuses a grant without a github identity, saying what to add", async () => {
    const error = await failureOf(provider(gh, { team: "platform" }).grant(grantContext({ identities: {} })));
    expect(error.transient).toBe(false);
    expect(error.message).toContain("identities: { U0CONFORM: { github: <login> } }");
  });

  it("works under a GitHub Enterprise path (/api/v3)", async () => {
    const ghe = await startGithubStandin({ basePath: "/api/v3" });
    try {
      expect(ghe.url).toMatch(/\/api\/v3$/);
      const p = provider(ghe, { team: "platform" });
      const ctx = grantContext({ identities: { github: "octocat" } });
      await p.grant(ctx);
      expect(ghe.teamState("platform", "octocat")).toBe("pending");
      await p.revoke(ctx);
      expect(ghe.teamState("platform", "octocat")).toBeUndefined();
    } finally {
      await ghe.close();
    }
  });
});

describe("github provider as a GitHub App", () => {
  it("exchanges a JWT (PKCS#1 key with \\n escapes) for an installation token and reuses it", async () => {
    const gh = await startGithubStandin();
    try {
      // As pasted into a one-line environment variable: `\n` escapes, not newlines.
      const escaped = gh.app.privateKey.trim().replace(/\n/g, "\\n");
      expect(gh.app.privateKey).toContain("-----BEGIN RSA PRIVATE KEY-----");
      const settings = {
        org: "acme",
        apiUrl: gh.url,
        team: "platform",
        app: { id: String(gh.app.id), privateKey: escaped, installationId: gh.app.installationId },
      };
      const p = createProvider("github", settings, { holds: db.holds });
      await p.check();
      const ctx = grantContext({ identities: { github: "octocat" } });
      await p.grant(ctx);
      await p.revoke(ctx);
      expect(gh.issued).toHaveLength(1); // one token for every call
    } finally {
      await gh.close();
    }
  });

  it("replaces tokens that expire within the refresh margin instead of using them", async () => {
    const gh = await startGithubStandin({ installationTokenTtlMs: 4 * 60_000 });
    try {
      const p = createProvider(
        "github",
        { org: "acme", apiUrl: gh.url, team: "platform", app: { ...gh.app, privateKey: gh.app.privateKey } },
        { holds: db.holds },
      );
      await p.check();
      await p.check();
      expect(gh.issued).toHaveLength(2);
    } finally {
      await gh.close();
    }
  });
});

describe("github settings", () => {
  const base = { org: "acme", token: "t" };
  const problems = (settings: unknown) => {
    const parsed = GithubSettings.safeParse(settings);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("needs exactly one of team or repository, and exactly one of token or app", () => {
    expect(problems({ ...base })).toEqual(["team: set exactly one of team or repository"]);
    expect(problems({ ...base, team: "t", repository: "r" })).toEqual([
      "team: set exactly one of team or repository",
    ]);
    expect(problems({ org: "acme", team: "t" })).toEqual(["token: set exactly one of token or app"]);
  });

  it("defaults permission to push and apiUrl to api.github.com; refuses plain http off loopback", () => {
    const parsed = GithubSettings.parse({ ...base, repository: "app" });
    expect(parsed.permission).toBe("push");
    expect(parsed.apiUrl).toBe("https://api.github.com");
    expect(GithubSettings.parse({ ...base, team: "t", apiUrl: "https://ghe.example/api/v3/" }).apiUrl).toBe(
      "https://ghe.example/api/v3",
    );
    expect(problems({ ...base, team: "t", apiUrl: "http://ghe.example/api/v3" })[0]).toMatch(
      /^apiUrl: must be an https/,
    );
    expect(problems({ ...base, repository: "app", permission: "write" })[0]).toMatch(/^permission: /);
  });

  it("refuses a private key that is not a PEM key, without quoting it", () => {
    const secret =
      "-----BEGIN RSA PRIVATE KEY-----\\nnot-really-a-key-0123456789\\n-----END RSA PRIVATE KEY-----";
    const found = problems({ org: "acme", team: "t", app: { id: 1, privateKey: secret, installationId: 2 } });
    expect(found).toEqual([
      "app.privateKey: must be the App's PEM private key (-----BEGIN RSA PRIVATE KEY-----…), with newlines or \\n",
    ]);
    expect(found.join()).not.toContain("not-really-a-key");
  });
});
