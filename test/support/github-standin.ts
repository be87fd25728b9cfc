import { createPublicKey, createVerify, generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local GitHub REST API, over real HTTP, for the routes jit's github provider uses: team
 * memberships, repository collaborators and invitations, the permission check, and a GitHub App's
 * JWT → installation token exchange (the JWT verified with the App's public key). It answers with
 * GitHub's shapes and status codes (201 invitation / 204 updated, 404 for what the token cannot
 * see, 401 for a bad or expired token), and can be told to answer with GitHub's rate limits
 * (403 secondary limit, 403 with `x-ratelimit-remaining: 0`, 429 with `retry-after`) or be down.
 */
export type RepoPermission = "pull" | "triage" | "push" | "maintain" | "admin";
const RANK: RepoPermission[] = ["pull", "triage", "push", "maintain", "admin"];

interface Invitation {
  id: number;
  login: string;
  permission: RepoPermission;
}

interface Repo {
  collaborators: Map<string, RepoPermission>;
  invitations: Map<number, Invitation>;
}

export type Limit = "secondary" | "primary" | "too-many";

export interface GithubStandinOptions {
  org?: string;
  /** Logins that exist on this GitHub. */
  users?: string[];
  /** Logins in the org: added straight to teams and repositories (no invitation). */
  members?: string[];
  teams?: string[];
  repos?: string[];
  /** Personal access tokens that work. */
  tokens?: string[];
  /** Mount the API under a path, as GitHub Enterprise does (`/api/v3`). */
  basePath?: string;
  /** Lifetime of installation tokens. Default 1 hour, as on GitHub. */
  installationTokenTtlMs?: number;
}

export interface GithubApp {
  id: number;
  installationId: number;
  /** PKCS#1 PEM, as GitHub hands it out. */
  privateKey: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
}

export class GithubStandin {
  url = "";
  readonly org: string;
  readonly users: Set<string>;
  readonly members: Set<string>;
  readonly teams = new Map<string, Map<string, "active" | "pending">>();
  readonly repos = new Map<string, Repo>();
  readonly tokens: Set<string>;
  readonly requests: RecordedRequest[] = [];
  /** Installation tokens issued, in order. */
  readonly issued: { token: string; expiresAt: Date }[] = [];
  readonly app: GithubApp;
  readonly #appPublicKey: KeyObject;
  readonly #basePath: string;
  readonly #tokenTtlMs: number;
  #down = false;
  #limits: { kind: Limit; retryAfter: number }[] = [];
  #nextInvitation = 1;
  readonly #server = createServer((req, res) => void this.#handle(req, res));

  constructor(options: GithubStandinOptions = {}) {
    this.org = options.org ?? "acme";
    this.users = new Set(options.users ?? ["ada-lovelace", "octocat", "grace"]);
    this.members = new Set(options.members ?? []);
    for (const team of options.teams ?? ["platform"]) this.teams.set(team, new Map());
    for (const repo of options.repos ?? ["app"])
      this.repos.set(repo, { collaborators: new Map(), invitations: new Map() });
    this.tokens = new Set(options.tokens ?? ["ghp_standin_token"]);
    this.#basePath = options.basePath ?? "";
    this.#tokenTtlMs = options.installationTokenTtlMs ?? 3_600_000;
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.app = {
      id: 4242,
      installationId: 777,
      privateKey: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    };
    this.#appPublicKey = createPublicKey(publicKey.export({ type: "spki", format: "pem" }));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}${this.#basePath}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Every request answers 503 while down. */
  setDown(down: boolean): void {
    this.#down = down;
  }

  /** The next `times` requests (token exchanges excepted) answer with this rate limit. */
  limitNext(kind: Limit, times = 1, retryAfter = 1): void {
    for (let i = 0; i < times; i++) this.#limits.push({ kind, retryAfter });
  }

  /** Drops rate limits not yet answered. */
  clearLimits(): void {
    this.#limits = [];
  }

  teamState(team: string, login: string): "active" | "pending" | undefined {
    return this.teams.get(team)?.get(login.toLowerCase());
  }

  collaborator(repo: string, login: string): RepoPermission | undefined {
    return this.#repo(repo).collaborators.get(login.toLowerCase());
  }

  invitationsFor(repo: string, login: string): Invitation[] {
    return [...this.#repo(repo).invitations.values()].filter((i) => i.login === login.toLowerCase());
  }

  /** The person accepts their invitation, as they would on github.com. */
  accept(repo: string, login: string): void {
    const r = this.#repo(repo);
    for (const invitation of this.invitationsFor(repo, login)) {
      r.invitations.delete(invitation.id);
      r.collaborators.set(invitation.login, invitation.permission);
    }
  }

  #repo(name: string): Repo {
    const repo = this.repos.get(name);
    if (!repo) throw new Error(`no repository ${name} in the stand-in`);
    return repo;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<Answered> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://standin");
    const method = req.method ?? "GET";
    const path = url.pathname.startsWith(this.#basePath) ? url.pathname.slice(this.#basePath.length) : "";
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ method, path, status });
      const text = body === undefined ? "" : JSON.stringify(body);
      res.writeHead(status, {
        ...(text ? { "content-type": "application/json; charset=utf-8" } : {}),
        ...headers,
      });
      res.end(text);
      return true as const;
    };
    if (this.#down) return send(503, { message: "Service Unavailable" });
    const exchange = path.match(/^\/app\/installations\/(\d+)\/access_tokens$/);
    if (exchange && method === "POST") return this.#exchange(req, Number(exchange[1]), send);
    const limit = this.#limits.shift();
    if (limit) return sendLimit(limit, send);
    if (!this.#authorized(req.headers.authorization)) {
      return send(401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
    }
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return send(400, { message: "Problems parsing JSON" });
    }
    return this.#route(method, path, url.searchParams, body, send);
  }

  #authorized(header: string | undefined): boolean {
    const token = header?.replace(/^(token|bearer)\s+/i, "") ?? "";
    if (this.tokens.has(token)) return true;
    const issued = this.issued.find((t) => t.token === token);
    return issued !== undefined && issued.expiresAt.getTime() > Date.now();
  }

  #exchange(req: IncomingMessage, installationId: number, send: Send): Answered {
    const jwt = req.headers.authorization?.replace(/^bearer\s+/i, "") ?? "";
    const claims = verifyJwt(jwt, this.#appPublicKey);
    if (!claims || String(claims.iss) !== String(this.app.id)) {
      return send(401, { message: "A JSON web token could not be decoded" });
    }
    if (installationId !== this.app.installationId) return send(404, { message: "Not Found" });
    const token = `ghs_${randomBytes(16).toString("hex")}`;
    const expiresAt = new Date(Date.now() + this.#tokenTtlMs);
    this.issued.push({ token, expiresAt });
    return send(201, {
      token,
      expires_at: expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
      permissions: { members: "write", administration: "write" },
      repository_selection: "all",
    });
  }

  #route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
    send: Send,
  ): Answered {
    const notFound = () =>
      send(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    const [first, owner, kind, name, sub, login, extra] = parts;
    if (owner?.toLowerCase() !== this.org) return notFound();
    if (first === "orgs" && kind === "teams" && name) {
      const team = this.teams.get(name);
      if (!team) return notFound();
      if (parts.length === 4 && method === "GET") return send(200, { id: 1, slug: name, name });
      if (sub !== "memberships" || !login || parts.length !== 6) return notFound();
      const who = login.toLowerCase();
      if (method === "GET") {
        const state = team.get(who);
        return state ? send(200, { state, role: "member", url: `${this.url}${path}` }) : notFound();
      }
      if (method === "PUT") {
        if (!this.users.has(who)) return notFound();
        const state = team.get(who) ?? (this.members.has(who) ? "active" : "pending");
        team.set(who, state);
        return send(200, { state, role: "member", url: `${this.url}${path}` });
      }
      if (method === "DELETE") return team.delete(who) ? send(204) : notFound();
      return notFound();
    }
    if (first !== "repos" || !kind) return notFound();
    const repo = this.repos.get(kind);
    if (!repo) return notFound();
    if (parts.length === 3 && method === "GET")
      return send(200, { id: 1, name: kind, full_name: `${owner}/${kind}` });
    if (name === "collaborators" && sub)
      return this.#collaborators(method, repo, sub.toLowerCase(), login, extra, body, send);
    if (name === "invitations") {
      if (!sub && method === "GET") return this.#listInvitations(repo, kind, query, send);
      if (sub && method === "DELETE") return repo.invitations.delete(Number(sub)) ? send(204) : notFound();
    }
    return notFound();
  }

  #collaborators(
    method: string,
    repo: Repo,
    who: string,
    tail: string | undefined,
    extra: string | undefined,
    body: Record<string, unknown>,
    send: Send,
  ): Answered {
    if (!this.users.has(who)) return send(404, { message: "Not Found" });
    if (tail === "permission" && extra === undefined && method === "GET") {
      const permission = repo.collaborators.get(who);
      return send(200, {
        permission: permission ? LEGACY[permission] : "none",
        role_name: permission ? ROLE_NAME[permission] : "none",
        user: { login: who, id: 1, type: "User" },
      });
    }
    if (tail !== undefined) return send(404, { message: "Not Found" });
    if (method === "PUT") {
      const permission = (body.permission ?? "push") as RepoPermission;
      if (!RANK.includes(permission)) {
        return send(422, {
          message: "Validation Failed",
          errors: [{ field: "permission", code: "invalid" }],
        });
      }
      if (repo.collaborators.has(who) || this.members.has(who)) {
        repo.collaborators.set(who, permission);
        return send(204);
      }
      const existing = [...repo.invitations.values()].find((i) => i.login === who);
      const invitation = existing ?? { id: this.#nextInvitation++, login: who, permission };
      invitation.permission = permission;
      repo.invitations.set(invitation.id, invitation);
      return send(201, invitationBody(invitation));
    }
    if (method === "DELETE") {
      repo.collaborators.delete(who);
      return send(204);
    }
    return send(404, { message: "Not Found" });
  }

  #listInvitations(repo: Repo, name: string, query: URLSearchParams, send: Send): Answered {
    const perPage = Math.min(Number(query.get("per_page") ?? 30), 100);
    const page = Number(query.get("page") ?? 1);
    const all = [...repo.invitations.values()];
    const slice = all.slice((page - 1) * perPage, page * perPage).map(invitationBody);
    const headers: Record<string, string> = {};
    if (page * perPage < all.length) {
      headers.link = `<${this.url}/repos/${this.org}/${name}/invitations?per_page=${perPage}&page=${page + 1}>; rel="next"`;
    }
    return send(200, slice, headers);
  }
}

/** Every route ends in exactly one answer; returning it makes a missed `return` a type error. */
type Answered = true;
type Send = (status: number, body?: unknown, headers?: Record<string, string>) => Answered;

const LEGACY: Record<RepoPermission, string> = {
  pull: "read",
  triage: "read",
  push: "write",
  maintain: "write",
  admin: "admin",
};
const ROLE_NAME: Record<RepoPermission, string> = {
  pull: "read",
  triage: "triage",
  push: "write",
  maintain: "maintain",
  admin: "admin",
};
const INVITATION_PERMISSION: Record<RepoPermission, string> = {
  pull: "read",
  triage: "triage",
  push: "write",
  maintain: "maintain",
  admin: "admin",
};

function invitationBody(invitation: Invitation) {
  return {
    id: invitation.id,
    invitee: { login: invitation.login, id: 1, type: "User" },
    permissions: INVITATION_PERMISSION[invitation.permission],
    created_at: new Date().toISOString(),
  };
}

function sendLimit(limit: { kind: Limit; retryAfter: number }, send: Send): Answered {
  const docs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
  if (limit.kind === "too-many") {
    return send(429, { message: "Too Many Requests" }, { "retry-after": String(limit.retryAfter) });
  }
  if (limit.kind === "secondary") {
    return send(
      403,
      {
        message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        documentation_url: docs,
      },
      { "retry-after": String(limit.retryAfter) },
    );
  }
  const reset = Math.ceil(Date.now() / 1000) + limit.retryAfter - 1;
  return send(
    403,
    { message: "API rate limit exceeded for installation.", documentation_url: docs },
    { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
  );
}

/** The claims of an RS256 JWT signed by `key`, valid now (GitHub allows at most 10 minutes), or null. */
function verifyJwt(jwt: string, key: KeyObject): Record<string, unknown> | null {
  const [header, payload, signature] = jwt.split(".");
  if (!header || !payload || !signature) return null;
  const alg = (JSON.parse(Buffer.from(header, "base64url").toString()) as { alg?: string }).alg;
  if (alg !== "RS256") return null;
  const verified = createVerify("RSA-SHA256")
    .update(`${header}.${payload}`)
    .verify(key, signature, "base64url");
  if (!verified) return null;
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { iat?: number; exp?: number };
  const now = Date.now() / 1000;
  if (typeof claims.iat !== "number" || typeof claims.exp !== "number") return null;
  if (claims.iat > now + 60 || claims.exp < now || claims.exp - claims.iat > 600) return null;
  return claims as Record<string, unknown>;
}

export async function startGithubStandin(options: GithubStandinOptions = {}): Promise<GithubStandin> {
  return new GithubStandin(options).start();
}
