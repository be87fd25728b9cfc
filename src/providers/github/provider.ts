import type { Holds, Presence } from "../holds.js";
import type { AccessProvider, GrantContext, GrantResult, ProviderRuntime } from "../types.js";
import { ProviderError, requireHolds } from "../types.js";
import { type GithubClient, type GithubTuning, githubClient } from "./client.js";
import { githubError, isNotFound } from "./errors.js";
import { GITHUB_PERMISSIONS, type GithubPermission, type GithubSettings } from "./settings.js";

const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;

/** GitHub's `role_name` (and legacy `permission`) words, mapped to the names a PUT takes. */
const ROLE_TO_PERMISSION: Record<string, GithubPermission> = {
  read: "pull",
  pull: "pull",
  triage: "triage",
  write: "push",
  push: "push",
  maintain: "maintain",
  admin: "admin",
};

const rank = (permission: string | undefined): number =>
  permission ? GITHUB_PERMISSIONS.indexOf(permission as GithubPermission) + 1 : 0;

/**
 * Team membership or repository collaborator access on GitHub (or GitHub Enterprise) for the
 * requester's `github` identity (their login). A login is in a team, or has a permission on a
 * repository, once — however many grants ask — so every change goes through the reference counts
 * ({@link Holds}): overlapping grants keep the access until the last ends, and access the person had
 * before jit is never removed (a lower repository permission they had is put back instead).
 * A revoke of a repository grant also deletes any pending invitation for the login, or the person
 * could still accept it later.
 */
export class GithubProvider implements AccessProvider {
  readonly identityKey = "github";
  readonly #settings: GithubSettings;
  readonly #client: GithubClient;
  readonly #holds: Holds;
  /** Every target of this resource starts with this: API, org and team or repository. */
  readonly #prefix: string;

  constructor(settings: GithubSettings, runtime: ProviderRuntime, tuning: GithubTuning = {}) {
    this.#settings = settings;
    this.#client = githubClient(settings, tuning);
    this.#holds = requireHolds(runtime, "github");
    const place = settings.team
      ? `team:${settings.org}/${settings.team}`
      : `repo:${settings.org}/${settings.repository}`;
    this.#prefix = `github:${settings.apiUrl}:${place}:`.toLowerCase();
  }

  async grant(ctx: GrantContext): Promise<GrantResult> {
    const login = loginOf(ctx);
    const target = `${this.#prefix}${login.toLowerCase()}`;
    let invited = false;
    try {
      await this.#holds.acquire(
        target,
        ctx.grantId,
        () => this.#presence(login),
        async () => {
          invited = await this.#add(login);
        },
      );
    } catch (error) {
      throw githubError(`grant to ${login}`, error);
    }
    return { details: this.#details(login, invited) };
  }

  async revoke(ctx: GrantContext): Promise<void> {
    try {
      // What the grant acquired, not the login the policy names now (it may have been edited).
      for (const target of await this.#holds.heldBy(ctx.grantId, this.#prefix)) {
        const login = target.slice(this.#prefix.length);
        await this.#holds.release(target, ctx.grantId, (prior) => this.#remove(login, prior));
      }
    } catch (error) {
      throw githubError("revoke", error);
    }
  }

  async check(): Promise<void> {
    const { org, team, repository } = this.#settings;
    try {
      if (team) await this.#client.rest.teams.getByName({ org, team_slug: team });
      else if (repository) await this.#client.rest.repos.get({ owner: org, repo: repository });
    } catch (error) {
      throw githubError(`cannot see ${this.#where()}`, error);
    }
  }

  async close(): Promise<void> {
    // Octokit holds no sockets of its own (fetch's pool is process-wide).
  }

  #where(): string {
    const { org, team, repository } = this.#settings;
    return team ? `team ${org}/${team}` : `repository ${org}/${repository}`;
  }

  #details(login: string, invited: boolean): Record<string, string> {
    const { org, team, repository, permission } = this.#settings;
    if (team) return { github: login, team: `${org}/${team}` };
    const details: Record<string, string> = { github: login, repository: `${org}/${repository}`, permission };
    if (invited)
      details.invitation = `pending: accept it at https://github.com/${org}/${repository}/invitations`;
    return details;
  }

  /** Whether the login already has what this resource gives (and, for repositories, what less). */
  async #presence(login: string): Promise<Presence> {
    const { org, team, repository, permission } = this.#settings;
    if (team) {
      try {
        // An active membership, or a pending one (an org invitation): either is what a PUT makes.
        await this.#client.rest.teams.getMembershipForUserInOrg({ org, team_slug: team, username: login });
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    }
    const current = await this.#repositoryPermission(login, repository as string, org);
    if (rank(current) >= rank(permission)) return true;
    return current ? { exists: false, prior: current } : false;
  }

  async #repositoryPermission(
    login: string,
    repo: string,
    owner: string,
  ): Promise<GithubPermission | undefined> {
    try {
      const { data } = await this.#client.rest.repos.getCollaboratorPermissionLevel({
        owner,
        repo,
        username: login,
      });
      return ROLE_TO_PERMISSION[data.role_name] ?? ROLE_TO_PERMISSION[data.permission];
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Gives the access; true when GitHub answered with an invitation the person must accept. */
  async #add(login: string): Promise<boolean> {
    const { org, team, repository, permission } = this.#settings;
    if (team) {
      await this.#client.rest.teams.addOrUpdateMembershipForUserInOrg({
        org,
        team_slug: team,
        username: login,
      });
      return false;
    }
    const answer = await this.#client.rest.repos.addCollaborator({
      owner: org,
      repo: repository as string,
      username: login,
      permission,
    });
    return answer.status === 201;
  }

  /** Takes the access away, or puts back the lower repository permission held before jit. */
  async #remove(login: string, prior: string | undefined): Promise<void> {
    const { org, team, repository } = this.#settings;
    if (team) {
      await this.#ignoringNotFound(() =>
        this.#client.rest.teams.removeMembershipForUserInOrg({ org, team_slug: team, username: login }),
      );
      return;
    }
    const repo = repository as string;
    if (prior) {
      await this.#client.rest.repos.addCollaborator({ owner: org, repo, username: login, permission: prior });
    } else {
      await this.#ignoringNotFound(() =>
        this.#client.rest.repos.removeCollaborator({ owner: org, repo, username: login }),
      );
    }
    const invitations = await this.#client.paginate(this.#client.rest.repos.listInvitations, {
      owner: org,
      repo,
      per_page: 100,
    });
    for (const invitation of invitations) {
      if (invitation.invitee?.login.toLowerCase() !== login.toLowerCase()) continue;
      await this.#ignoringNotFound(() =>
        this.#client.rest.repos.deleteInvitation({ owner: org, repo, invitation_id: invitation.id }),
      );
    }
  }

  /**
   * Not found counts as removed, but only when the team or repository itself is visible: a token
   * that lost access also answers 404, and calling that "done" would leave the person in.
   */
  async #ignoringNotFound(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.check();
    }
  }
}

function loginOf(ctx: GrantContext): string {
  const login = ctx.identities.github;
  if (!login) {
    throw new ProviderError(
      `${ctx.requester.slackId} has no github identity; add identities: { ${ctx.requester.slackId}: { github: <login> } } to the policy`,
      false,
    );
  }
  if (!LOGIN.test(login))
    throw new ProviderError(`the github identity of ${ctx.requester.slackId} is not a GitHub login`, false);
  return login;
}
