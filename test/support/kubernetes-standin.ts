import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/**
 * A Kubernetes API server stand-in over real HTTPS, speaking the wire shapes jit's `kubernetes`
 * provider uses: RoleBindings (rbac.authorization.k8s.io/v1), ServiceAccounts and their
 * TokenRequest subresource (authentication.k8s.io/v1), SelfSubjectReview (to prove a token works),
 * bearer-token authentication, `Status` objects for 401/403/404/409/422, equality-based label
 * selectors and delete preconditions. It answers as the real API server does for these calls (see
 * kubernetes-standin.test.ts, which drives it with the official client) and keeps everything in
 * memory; RBAC is simplified to "admin tokens may do everything, other tokens nothing but ask who
 * they are", and `boundRoles` evaluates bindings so tests can see what a subject was given.
 */
export interface KubernetesStandin {
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  /** The serving certificate as a kubeconfig's `certificate-authority-data` (base64 of the PEM). */
  readonly caData: string;
  /** A token allowed to do everything (jit's own service account). */
  readonly adminToken: string;
  /** A token that authenticates but is forbidden everything (a service account without RBAC). */
  readonly forbiddenToken: string;
  /** Every request received, in order (bodies parsed). */
  readonly requests: Array<{ method: string; path: string; body: unknown; token?: string }>;
  addNamespace(name: string): void;
  roleBindings(namespace: string): RoleBinding[];
  serviceAccounts(namespace: string): ServiceAccount[];
  /** Stores an object as if someone else had created it (kubectl, GitOps), bypassing the API. */
  seedRoleBinding(
    namespace: string,
    binding: Omit<RoleBinding, "metadata"> & {
      metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    },
  ): void;
  /** The user a token authenticates as right now, or undefined (unknown, expired or SA deleted). */
  authenticate(token: string): string | undefined;
  /** The roles `subject` holds in `namespace` through RoleBindings, as `Role/name` or `ClusterRole/name`. */
  boundRoles(namespace: string, subject: { kind: "User" | "ServiceAccount"; name: string }): string[];
  /** Every API call answers this HTTP status (a `Status` object), until called with `undefined`. */
  failWith(code: number | undefined): void;
  /** Stops listening (connection refused) or starts again on the same port. */
  setDown(down: boolean): Promise<void>;
  /** Moves the stand-in's clock, so issued tokens can expire. */
  advanceClock(ms: number): void;
  close(): Promise<void>;
}

interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RoleBinding {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  subjects?: Array<{ kind: string; name: string; apiGroup?: string; namespace?: string }>;
  roleRef: { apiGroup: string; kind: string; name: string };
}
export interface ServiceAccount {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

interface IssuedToken {
  namespace: string;
  serviceAccount: string;
  uid: string;
  expiresAt: number;
}

const RBAC_GROUP = "rbac.authorization.k8s.io";
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MIN_TOKEN_SECONDS = 600;
const MAX_TOKEN_SECONDS = 2 ** 32;

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** A self-signed serving certificate for 127.0.0.1, made with the machine's `openssl`. */
async function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), "k8s-standin-"));
  try {
    const keyPath = join(dir, "key.pem");
    const certPath = join(dir, "cert.pem");
    await promisify(execFile)("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=kube-apiserver",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout",
      keyPath,
      "-out",
      certPath,
    ]);
    return { key: await readFile(keyPath, "utf8"), cert: await readFile(certPath, "utf8") };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function statusBody(error: ApiError) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: error.message,
    reason: error.reason,
    ...(error.details ? { details: error.details } : {}),
    code: error.code,
  };
}

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** Equality-based selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`), as `kubectl -l` sends them. */
function labelMatcher(selector: string | null): (labels: Record<string, string> | undefined) => boolean {
  if (!selector) return () => true;
  const tests = selector.split(",").map((raw) => {
    const part = raw.trim();
    const neq = /^([^!=\s]+)\s*!=\s*(\S*)$/.exec(part);
    if (neq) return (l: Record<string, string>) => l[neq[1] as string] !== neq[2];
    const eq = /^([^!=\s]+)\s*==?\s*(\S*)$/.exec(part);
    if (eq) return (l: Record<string, string>) => l[eq[1] as string] === eq[2];
    const absent = /^!([^!=\s]+)$/.exec(part);
    if (absent) return (l: Record<string, string>) => !Object.hasOwn(l, absent[1] as string);
    if (/^[^!=\s(),]+$/.test(part)) return (l: Record<string, string>) => Object.hasOwn(l, part);
    throw new ApiError(400, "BadRequest", `unable to parse requirement: ${JSON.stringify(part)}`);
  });
  return (labels) => tests.every((test) => test(labels ?? {}));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "BadRequest", "the request body is not valid JSON");
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" ? (value as Record<string, unknown>) : {};
}

export async function startKubernetesStandin(
  options: { namespaces?: string[] } = {},
): Promise<KubernetesStandin> {
  const { key, cert } = await selfSignedCertificate();
  const adminToken = `admin-${randomBytes(16).toString("hex")}`;
  const forbiddenToken = `nobody-${randomBytes(16).toString("hex")}`;
  const namespaces = new Set(options.namespaces ?? ["default"]);
  const bindings = new Map<string, Map<string, RoleBinding>>();
  const accounts = new Map<string, Map<string, ServiceAccount>>();
  const tokens = new Map<string, IssuedToken>();
  const requests: KubernetesStandin["requests"] = [];
  let clockOffset = 0;
  let resourceVersion = 1000;
  let failure: number | undefined;
  const now = () => Date.now() + clockOffset;
  const bucket = <T>(store: Map<string, Map<string, T>>, ns: string) => {
    let map = store.get(ns);
    if (map) return map;
    map = new Map<string, T>();
    store.set(ns, map);
    return map;
  };
  const stamp = (ns: string, meta: Record<string, unknown>): ObjectMeta => ({
    ...(meta as Partial<ObjectMeta>),
    name: String(meta.name),
    namespace: ns,
    uid: randomUUID(),
    resourceVersion: String(++resourceVersion),
    creationTimestamp: new Date(now()).toISOString().replace(/\.\d{3}Z$/, "Z"),
  });

  function authenticate(token: string): string | undefined {
    if (token === adminToken) return "system:serviceaccount:jit:jit";
    if (token === forbiddenToken) return "system:serviceaccount:jit:no-rbac";
    const issued = tokens.get(token);
    if (!issued || issued.expiresAt <= now()) return undefined;
    const account = accounts.get(issued.namespace)?.get(issued.serviceAccount);
    if (account?.metadata.uid !== issued.uid) return undefined; // the account was deleted
    return `system:serviceaccount:${issued.namespace}:${issued.serviceAccount}`;
  }

  function requireNamespace(ns: string): void {
    if (!namespaces.has(ns))
      throw new ApiError(404, "NotFound", `namespaces "${ns}" not found`, { name: ns, kind: "namespaces" });
  }

  function requireName(meta: Record<string, unknown>, ns: string, kind: string): string {
    const name = meta.name;
    if (typeof name !== "string" || name === "") {
      throw new ApiError(
        422,
        "Invalid",
        `${kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
      );
    }
    if (meta.namespace !== undefined && meta.namespace !== ns) {
      throw new ApiError(
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    return name;
  }

  function createRoleBinding(ns: string, body: unknown): RoleBinding {
    const obj = asRecord(body);
    const meta = asRecord(obj.metadata);
    const name = requireName(meta, ns, "RoleBinding.rbac.authorization.k8s.io");
    if (name === "." || name === ".." || /[/%]/.test(name)) {
      throw new ApiError(
        422,
        "Invalid",
        `RoleBinding.rbac.authorization.k8s.io "${name}" is invalid: metadata.name: Invalid value: "${name}": may not contain '/' or '%'`,
      );
    }
    const roleRef = asRecord(obj.roleRef);
    if (
      roleRef.apiGroup !== RBAC_GROUP ||
      (roleRef.kind !== "Role" && roleRef.kind !== "ClusterRole") ||
      !roleRef.name
    ) {
      throw new ApiError(
        422,
        "Invalid",
        `RoleBinding.rbac.authorization.k8s.io "${name}" is invalid: roleRef: Invalid value: ${JSON.stringify(roleRef)}`,
      );
    }
    const subjects = Array.isArray(obj.subjects) ? obj.subjects.map(asRecord) : [];
    for (const [i, s] of subjects.entries()) {
      const ok =
        s.kind === "User" || s.kind === "Group"
          ? s.apiGroup === RBAC_GROUP
          : s.kind === "ServiceAccount" && (s.apiGroup ?? "") === "";
      if (!ok || typeof s.name !== "string" || s.name === "") {
        throw new ApiError(
          422,
          "Invalid",
          `RoleBinding.rbac.authorization.k8s.io "${name}" is invalid: subjects[${i}]: Invalid value: ${JSON.stringify(s)}`,
        );
      }
    }
    requireNamespace(ns);
    const store = bucket(bindings, ns);
    if (store.has(name)) {
      throw new ApiError(
        409,
        "AlreadyExists",
        `rolebindings.rbac.authorization.k8s.io "${name}" already exists`,
        { name, group: RBAC_GROUP, kind: "rolebindings" },
      );
    }
    const created: RoleBinding = {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: "RoleBinding",
      metadata: stamp(ns, meta),
      subjects: subjects as RoleBinding["subjects"],
      roleRef: roleRef as RoleBinding["roleRef"],
    };
    store.set(name, created);
    return created;
  }

  function createServiceAccount(ns: string, body: unknown): ServiceAccount {
    const meta = asRecord(asRecord(body).metadata);
    const name = requireName(meta, ns, "ServiceAccount");
    if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
      throw new ApiError(
        422,
        "Invalid",
        `ServiceAccount "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      );
    }
    requireNamespace(ns);
    const store = bucket(accounts, ns);
    if (store.has(name))
      throw new ApiError(409, "AlreadyExists", `serviceaccounts "${name}" already exists`, {
        name,
        kind: "serviceaccounts",
      });
    const created: ServiceAccount = { apiVersion: "v1", kind: "ServiceAccount", metadata: stamp(ns, meta) };
    store.set(name, created);
    return created;
  }

  function requestToken(ns: string, name: string, body: unknown) {
    const spec = asRecord(asRecord(body).spec);
    const seconds = spec.expirationSeconds === undefined ? 3600 : Number(spec.expirationSeconds);
    if (!Number.isInteger(seconds) || seconds < MIN_TOKEN_SECONDS) {
      throw new ApiError(
        422,
        "Invalid",
        `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: Invalid value: ${seconds}: may not specify a duration less than 10 minutes`,
      );
    }
    if (seconds > MAX_TOKEN_SECONDS) {
      throw new ApiError(
        422,
        "Invalid",
        `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: Invalid value: ${seconds}: may not specify a duration larger than 2^32 seconds`,
      );
    }
    const account = accounts.get(ns)?.get(name);
    if (!account)
      throw new ApiError(404, "NotFound", `serviceaccounts "${name}" not found`, {
        name,
        kind: "serviceaccounts",
      });
    const token = `eyJ${randomBytes(48).toString("base64url")}`;
    const expiresAt = now() + seconds * 1000;
    tokens.set(token, { namespace: ns, serviceAccount: name, uid: account.metadata.uid, expiresAt });
    return {
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      metadata: {
        name,
        namespace: ns,
        creationTimestamp: new Date(now()).toISOString().replace(/\.\d{3}Z$/, "Z"),
      },
      spec: {
        audiences: ["https://kubernetes.default.svc"],
        expirationSeconds: seconds,
        boundObjectRef: null,
      },
      status: { token, expirationTimestamp: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z") },
    };
  }

  /** Deletes honouring `preconditions.uid`, as the API server does (409 when it differs). */
  function remove<T extends { metadata: ObjectMeta }>(
    store: Map<string, T> | undefined,
    name: string,
    body: unknown,
    notFound: ApiError,
  ): T {
    const existing = store?.get(name);
    if (!existing) throw notFound;
    const uid = asRecord(asRecord(body).preconditions).uid;
    if (uid !== undefined && uid !== existing.metadata.uid) {
      throw new ApiError(
        409,
        "Conflict",
        `Precondition failed: UID in precondition: ${String(uid)}, UID in object meta: ${existing.metadata.uid}`,
      );
    }
    store?.delete(name);
    return existing;
  }

  function list<T extends { metadata: ObjectMeta }>(
    kind: string,
    apiVersion: string,
    items: Iterable<T>,
    url: URL,
  ) {
    const matches = labelMatcher(url.searchParams.get("labelSelector"));
    return {
      kind,
      apiVersion,
      metadata: { resourceVersion: String(resourceVersion) },
      items: [...items].filter((item) => matches(item.metadata.labels)),
    };
  }

  async function route(req: IncomingMessage, url: URL, token: string): Promise<[number, unknown]> {
    const method = req.method ?? "GET";
    const body = method === "GET" ? undefined : await readJson(req);
    requests.push({ method, path: `${url.pathname}${url.search}`, body, token });
    if (failure !== undefined) {
      throw new ApiError(
        failure,
        REASONS[failure] ?? "InternalError",
        `the server is currently unable to handle the request (injected ${failure})`,
      );
    }
    const user = authenticate(token);
    if (!user) throw new ApiError(401, "Unauthorized", "Unauthorized");
    if (url.pathname === "/apis/authentication.k8s.io/v1/selfsubjectreviews" && method === "POST") {
      return [
        201,
        {
          apiVersion: "authentication.k8s.io/v1",
          kind: "SelfSubjectReview",
          metadata: {},
          status: { userInfo: { username: user, groups: ["system:authenticated"] } },
        },
      ];
    }
    const rb =
      /^\/apis\/rbac\.authorization\.k8s\.io\/v1\/namespaces\/([^/]+)\/rolebindings(?:\/([^/]+))?$/.exec(
        url.pathname,
      );
    const sa = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts(?:\/([^/]+)(\/token)?)?$/.exec(url.pathname);
    const [ns, name, sub] = [rb?.[1] ?? sa?.[1], rb?.[2] ?? sa?.[2], sa?.[3]];
    if (!ns) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    if (token !== adminToken) {
      const resource = rb
        ? `"rolebindings" in API group "${RBAC_GROUP}"`
        : `"serviceaccounts${sub ? "/token" : ""}" in API group ""`;
      const verb =
        { GET: name ? "get" : "list", POST: "create", DELETE: "delete" }[method] ?? method.toLowerCase();
      throw new ApiError(
        403,
        "Forbidden",
        `${rb ? `rolebindings.${RBAC_GROUP}` : "serviceaccounts"}${name ? ` "${name}"` : ""} is forbidden: User "${user}" cannot ${verb} resource ${resource} in the namespace "${ns}"`,
      );
    }
    if (rb) {
      const store = bindings.get(ns);
      const notFound = new ApiError(404, "NotFound", `rolebindings.${RBAC_GROUP} "${name}" not found`, {
        name,
        group: RBAC_GROUP,
        kind: "rolebindings",
      });
      if (!name && method === "GET")
        return [200, list("RoleBindingList", `${RBAC_GROUP}/v1`, store?.values() ?? [], url)];
      if (!name && method === "POST") return [201, createRoleBinding(ns, body)];
      if (name && method === "GET") {
        const found = store?.get(name);
        if (!found) throw notFound;
        return [200, found];
      }
      if (name && method === "DELETE") {
        const gone = remove(store, name, body, notFound);
        return [
          200,
          {
            kind: "Status",
            apiVersion: "v1",
            metadata: {},
            status: "Success",
            details: { name, group: RBAC_GROUP, kind: "rolebindings", uid: gone.metadata.uid },
          },
        ];
      }
    } else {
      const store = accounts.get(ns);
      const notFound = new ApiError(404, "NotFound", `serviceaccounts "${name}" not found`, {
        name,
        kind: "serviceaccounts",
      });
      if (!name && method === "GET")
        return [200, list("ServiceAccountList", "v1", store?.values() ?? [], url)];
      if (!name && method === "POST") return [201, createServiceAccount(ns, body)];
      if (name && sub && method === "POST") return [201, requestToken(ns, name, body)];
      if (name && !sub && method === "GET") {
        const found = store?.get(name);
        if (!found) throw notFound;
        return [200, found];
      }
      if (name && !sub && method === "DELETE") return [200, remove(store, name, body, notFound)];
    }
    throw new ApiError(
      405,
      "MethodNotAllowed",
      `the server does not allow this method on the requested resource`,
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
    let code: number;
    let payload: unknown;
    try {
      [code, payload] = await route(req, url, token);
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError(500, "InternalError", String(error));
      [code, payload] = [apiError.code, statusBody(apiError)];
    }
    res.writeHead(code, { "Content-Type": "application/json" });
    res.end(JSON.stringify(payload));
  }

  const server: Server = createServer({ key, cert }, (req, res) => {
    void handle(req, res);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  let down = false;

  return {
    url: `https://127.0.0.1:${port}`,
    caData: Buffer.from(cert).toString("base64"),
    adminToken,
    forbiddenToken,
    requests,
    addNamespace: (name) => void namespaces.add(name),
    roleBindings: (ns) => [...(bindings.get(ns)?.values() ?? [])],
    serviceAccounts: (ns) => [...(accounts.get(ns)?.values() ?? [])],
    seedRoleBinding(ns, binding) {
      bucket(bindings, ns).set(binding.metadata.name, {
        apiVersion: `${RBAC_GROUP}/v1`,
        kind: "RoleBinding",
        ...binding,
        metadata: stamp(ns, binding.metadata),
      });
    },
    authenticate,
    boundRoles(ns, subject) {
      return [...(bindings.get(ns)?.values() ?? [])]
        .filter((b) =>
          (b.subjects ?? []).some((s) =>
            subject.kind === "User"
              ? s.kind === "User" && s.name === subject.name
              : s.kind === "ServiceAccount" && s.name === subject.name && (s.namespace ?? ns) === ns,
          ),
        )
        .map((b) => `${b.roleRef.kind}/${b.roleRef.name}`);
    },
    failWith(code) {
      failure = code;
    },
    async setDown(value) {
      if (value === down) return;
      down = value;
      if (value) await stop();
      else await listen(port);
    },
    advanceClock(ms) {
      clockOffset += ms;
    },
    async close() {
      if (!down) await stop();
    },
  };
}
