import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GithubStandin, startGithubStandin } from "../support/github-standin.js";
import { type Harness, startHarness } from "../support/harness.js";
import { dmsTo, fileRequest, waitForStatus } from "../support/lifecycle.js";
import { slackEscape } from "../support/slack-requests.js";
import { startSlackStandin } from "../support/slack-standin.js";
import { waitFor } from "../support/wait.js";

/**
 * The github provider inside the running app: identities from the policy, a missing identity
 * refused when the request is filed, grants and their ends (revoke, expiry) on the GitHub stand-in,
 * reference counting across two resources on the same team, and access from before jit kept.
 */
let h: Harness;
let gh: GithubStandin;

const resource = (id: string) => `
  - id: ${id}
    name: Platform team (${id})
    provider: github
    settings: { org: acme, team: platform, apiUrl: "GH_URL", token: "\${GH_TOKEN}" }
    maxDuration: 4h
    approvers: { users: [U0LEAD1] }`;

const POLICY = `
minDuration: 1s
admins: [U0ADMIN]
identities:
  U0ALICE: { github: ada-lovelace }
  U0BOB: { github: octocat }
resources:${resource("platform")}${resource("platform-oncall")}
`;

beforeAll(async () => {
  gh = await startGithubStandin({ users: ["ada-lovelace", "octocat"], members: ["ada-lovelace", "octocat"] });
  const standin = await startSlackStandin();
  standin.setUser("U0ALICE", { name: "alice", email: "alice@example.com" });
  standin.setUser("U0CAROL", { name: "carol", email: "carol@example.com" });
  h = await startHarness({
    label: "github",
    policy: POLICY.replaceAll("GH_URL", gh.url),
    env: { GH_TOKEN: "ghp_standin_token" },
    standin,
  });
});

afterAll(async () => {
  await h?.stop();
  await h?.standin.close();
  await gh?.close();
});

const member = (login: string) => gh.teamState("platform", login) !== undefined;

describe("github access through jit", () => {
  it("refuses at once a person without a github identity, says what to add, audits it, files nothing", async () => {
    const sent = await h.command("U0CAROL", "request platform 1h investigate the outage");
    const reply = await h.reply(sent.responseUrl);
    expect(reply).toContain("platform is granted to your github identity, and jit does not know yours");
    // Escaped for mrkdwn on the wire; Slack shows `<login>`.
    expect(reply).toContain(slackEscape("`identities: { U0CAROL: { github: <login> } }`"));
    expect(await h.db.accessRequest.count({ where: { requesterId: "U0CAROL" } })).toBe(0);
    const audited = await h.db.auditEvent.findMany({
      where: { actor: "U0CAROL", action: "request.rejected" },
    });
    expect(audited.map((e) => (e.details as { reason?: string }).reason)).toEqual(["no github identity"]);
  });

  it("grants team membership on approval and takes it away at expiry", async () => {
    const id = await fileRequest(h, "U0ALICE", "platform 3s fix the deploy");
    await h.click("U0LEAD1", "jit_approve", id);
    await waitForStatus(h, id, "ACTIVE");
    expect(member("ada-lovelace")).toBe(true);
    await waitFor(
      () =>
        dmsTo(h, "U0ALICE").some(
          (m) => m.text.includes(`(${id})`) && m.text.includes("github: ada-lovelace"),
        ),
      {
        timeout: 10_000,
      },
    );
    await waitForStatus(h, id, "EXPIRED", 20_000);
    expect(member("ada-lovelace")).toBe(false);
  });

  it("keeps the membership while another grant (another resource, same team) still holds it", async () => {
    const first = await fileRequest(h, "U0BOB", "platform 1h incident");
    const second = await fileRequest(h, "U0BOB", "platform-oncall 1h incident");
    await h.click("U0LEAD1", "jit_approve", first);
    await h.click("U0LEAD1", "jit_approve", second);
    await waitForStatus(h, first, "ACTIVE");
    await waitForStatus(h, second, "ACTIVE");
    await h.command("U0BOB", `revoke ${first} done`);
    await waitForStatus(h, first, "REVOKED");
    expect(member("octocat")).toBe(true);
    await h.command("U0BOB", `revoke ${second} done`);
    await waitForStatus(h, second, "REVOKED");
    expect(member("octocat")).toBe(false);
  });

  it("never removes a membership the person had before jit", async () => {
    gh.teams.get("platform")?.set("ada-lovelace", "active");
    const id = await fileRequest(h, "U0ALICE", "platform 1h check");
    await h.click("U0LEAD1", "jit_approve", id);
    await waitForStatus(h, id, "ACTIVE");
    await h.command("U0ALICE", `revoke ${id} done`);
    await waitForStatus(h, id, "REVOKED");
    expect(member("ada-lovelace")).toBe(true);
    gh.teams.get("platform")?.delete("ada-lovelace");
  });
});
