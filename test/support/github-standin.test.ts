import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GithubStandin, startGithubStandin } from "./github-standin.js";

/**
 * The stand-in checked once with the official clients (@octokit/rest, @octokit/auth-app), used
 * plainly, so it cannot drift from the shapes real GitHub answers with and the clients expect.
 */
describe("GitHub stand-in, driven by the official Octokit client", () => {
  let gh: GithubStandin;
  let octokit: Octokit;

  beforeAll(async () => {
    gh = await startGithubStandin({
      users: ["octocat", "member1"],
      members: ["member1"],
      basePath: "/api/v3",
    });
    octokit = new Octokit({ baseUrl: gh.url, auth: "ghp_standin_token" });
  });

  afterAll(async () => {
    await gh?.close();
  });

  it("team membership: PUT, GET, DELETE, 404 when not a member", async () => {
    const params = { org: "acme", team_slug: "platform", username: "octocat" };
    const added = await octokit.rest.teams.addOrUpdateMembershipForUserInOrg(params);
    expect(added.status).toBe(200);
    expect(added.data.state).toBe("pending"); // not an org member: GitHub invites them to the org
    expect((await octokit.rest.teams.getMembershipForUserInOrg(params)).data.role).toBe("member");
    expect((await octokit.rest.teams.removeMembershipForUserInOrg(params)).status).toBe(204);
    await expect(octokit.rest.teams.getMembershipForUserInOrg(params)).rejects.toMatchObject({ status: 404 });
    expect((await octokit.rest.teams.getByName({ org: "acme", team_slug: "platform" })).data.slug).toBe(
      "platform",
    );
  });

  it("collaborators: 201 invitation for an outsider, 204 for a member, permission levels, invitations", async () => {
    const repo = { owner: "acme", repo: "app" };
    const invited = await octokit.rest.repos.addCollaborator({
      ...repo,
      username: "octocat",
      permission: "push",
    });
    expect(invited.status).toBe(201);
    expect(invited.data.invitee?.login).toBe("octocat");
    const added = await octokit.rest.repos.addCollaborator({
      ...repo,
      username: "member1",
      permission: "maintain",
    });
    expect(added.status).toBe(204);
    const level = await octokit.rest.repos.getCollaboratorPermissionLevel({ ...repo, username: "member1" });
    expect(level.data).toMatchObject({
      permission: "write",
      role_name: "maintain",
      user: { login: "member1" },
    });
    const none = await octokit.rest.repos.getCollaboratorPermissionLevel({ ...repo, username: "octocat" });
    expect(none.data.permission).toBe("none");
    const invitations = await octokit.paginate(octokit.rest.repos.listInvitations, { ...repo, per_page: 1 });
    expect(invitations.map((i) => i.invitee?.login)).toEqual(["octocat"]);
    const [invitation] = invitations;
    expect(
      (await octokit.rest.repos.deleteInvitation({ ...repo, invitation_id: invitation?.id ?? 0 })).status,
    ).toBe(204);
    expect((await octokit.rest.repos.removeCollaborator({ ...repo, username: "member1" })).status).toBe(204);
  });

  it("paginates invitations with Link headers", async () => {
    const repo = { owner: "acme", repo: "app" };
    gh.users.add("u2");
    gh.users.add("u3");
    for (const username of ["octocat", "u2", "u3"])
      await octokit.rest.repos.addCollaborator({ ...repo, username });
    const all = await octokit.paginate(octokit.rest.repos.listInvitations, { ...repo, per_page: 2 });
    expect(all).toHaveLength(3);
    for (const i of all) await octokit.rest.repos.deleteInvitation({ ...repo, invitation_id: i.id });
  });

  it("a GitHub App's JWT (PKCS#1 key) buys an installation token that then works", async () => {
    const app = new Octokit({
      baseUrl: gh.url,
      authStrategy: createAppAuth,
      auth: { appId: gh.app.id, privateKey: gh.app.privateKey, installationId: gh.app.installationId },
    });
    const before = gh.issued.length;
    expect((await app.rest.repos.get({ owner: "acme", repo: "app" })).data.full_name).toBe("acme/app");
    expect(gh.issued.length).toBe(before + 1);
  });

  it("a JWT signed with another key is refused; so is a wrong token", async () => {
    const other = await startGithubStandin();
    const impostor = new Octokit({
      baseUrl: gh.url,
      authStrategy: createAppAuth,
      auth: { appId: gh.app.id, privateKey: other.app.privateKey, installationId: gh.app.installationId },
    });
    await other.close();
    await expect(impostor.rest.repos.get({ owner: "acme", repo: "app" })).rejects.toMatchObject({
      status: 401,
    });
    const wrong = new Octokit({ baseUrl: gh.url, auth: "ghp_wrong" });
    await expect(wrong.rest.repos.get({ owner: "acme", repo: "app" })).rejects.toMatchObject({ status: 401 });
  });

  it("answers with GitHub's rate-limit shapes", async () => {
    gh.limitNext("secondary");
    const secondary = await octokit.rest.repos.get({ owner: "acme", repo: "app" }).catch((e: unknown) => e);
    expect(secondary).toMatchObject({ status: 403, response: { headers: { "retry-after": "1" } } });
    expect(String((secondary as Error).message)).toMatch(/secondary rate limit/);
    gh.limitNext("too-many");
    await expect(octokit.rest.repos.get({ owner: "acme", repo: "app" })).rejects.toMatchObject({
      status: 429,
    });
    gh.limitNext("primary");
    await expect(octokit.rest.repos.get({ owner: "acme", repo: "app" })).rejects.toMatchObject({
      status: 403,
      response: { headers: { "x-ratelimit-remaining": "0" } },
    });
  });
});
