import {
  ApiException,
  AuthenticationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1RoleBinding,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubernetesStandin, startKubernetesStandin } from "./kubernetes-standin.js";

/** A KubeConfig as `kubectl` would hold it: the stand-in's server and CA, and a bearer token. */
function kubeConfig(standin: KubernetesStandin, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "standin", server: standin.url, caData: standin.caData, skipTLSVerify: false }],
    users: [{ name: "u", token }],
    contexts: [{ name: "c", cluster: "standin", user: "u", namespace: "staging" }],
    currentContext: "c",
  });
  return kc;
}

async function apiFailure(
  promise: Promise<unknown>,
): Promise<{ code: number; body: Record<string, unknown> }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiException);
  const apiError = error as ApiException<unknown>;
  const body = typeof apiError.body === "string" ? JSON.parse(apiError.body) : apiError.body;
  return { code: apiError.code, body: body as Record<string, unknown> };
}

const binding = (name: string, user: string): V1RoleBinding => ({
  metadata: { name, labels: { "app.kubernetes.io/managed-by": "jit", team: "a" } },
  subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: user }],
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
});

/** The stand-in must answer the official client exactly as a real API server would. */
describe("Kubernetes API stand-in, driven by @kubernetes/client-node", () => {
  let standin: KubernetesStandin;
  let rbac: RbacAuthorizationV1Api;
  let core: CoreV1Api;

  beforeAll(async () => {
    standin = await startKubernetesStandin({ namespaces: ["staging"] });
    const kc = kubeConfig(standin, standin.adminToken);
    rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    core = kc.makeApiClient(CoreV1Api);
  });

  afterAll(async () => {
    await standin?.close();
  });

  it("creates, reads, lists by label and deletes RoleBindings over TLS with the CA from caData", async () => {
    const created = await rbac.createNamespacedRoleBinding({
      namespace: "staging",
      body: binding("rb-one", "ada@example.com"),
    });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.namespace).toBe("staging");
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    await rbac.createNamespacedRoleBinding({
      namespace: "staging",
      body: {
        ...binding("rb-other", "bob@example.com"),
        metadata: { name: "rb-other", labels: { team: "b" } },
      },
    });
    const read = await rbac.readNamespacedRoleBinding({ name: "rb-one", namespace: "staging" });
    expect(read.subjects?.[0]?.name).toBe("ada@example.com");
    expect(read.roleRef.name).toBe("edit");

    const managed = await rbac.listNamespacedRoleBinding({
      namespace: "staging",
      labelSelector: "app.kubernetes.io/managed-by=jit",
    });
    expect(managed.items.map((b) => b.metadata?.name)).toEqual(["rb-one"]);
    const notA = await rbac.listNamespacedRoleBinding({ namespace: "staging", labelSelector: "team!=a" });
    expect(notA.items.map((b) => b.metadata?.name)).toEqual(["rb-other"]);

    const status = await rbac.deleteNamespacedRoleBinding({ name: "rb-one", namespace: "staging" });
    expect(status.status).toBe("Success");
    await rbac.deleteNamespacedRoleBinding({ name: "rb-other", namespace: "staging" });
  });

  it("answers 404 and 409 with Status objects", async () => {
    const missing = await apiFailure(rbac.readNamespacedRoleBinding({ name: "nope", namespace: "staging" }));
    expect(missing.code).toBe(404);
    expect(missing.body).toMatchObject({ kind: "Status", reason: "NotFound", code: 404 });
    await rbac.createNamespacedRoleBinding({
      namespace: "staging",
      body: binding("rb-dup", "ada@example.com"),
    });
    const dup = await apiFailure(
      rbac.createNamespacedRoleBinding({ namespace: "staging", body: binding("rb-dup", "x") }),
    );
    expect(dup.code).toBe(409);
    expect(dup.body).toMatchObject({
      reason: "AlreadyExists",
      message: expect.stringContaining("already exists"),
    });
    const noNamespace = await apiFailure(
      rbac.createNamespacedRoleBinding({ namespace: "ghost", body: binding("rb", "x") }),
    );
    expect(noNamespace.body).toMatchObject({ reason: "NotFound", message: 'namespaces "ghost" not found' });
  });

  it("refuses a delete whose uid precondition does not match (409 Conflict)", async () => {
    await rbac.createNamespacedRoleBinding({
      namespace: "staging",
      body: binding("rb-pre", "ada@example.com"),
    });
    const conflict = await apiFailure(
      rbac.deleteNamespacedRoleBinding({
        name: "rb-pre",
        namespace: "staging",
        body: { preconditions: { uid: "other" } },
      }),
    );
    expect(conflict.code).toBe(409);
    expect(standin.roleBindings("staging").some((b) => b.metadata.name === "rb-pre")).toBe(true);
  });

  it("issues TokenRequest tokens (at least 600 s) that authenticate until the ServiceAccount is deleted", async () => {
    const sa = await core.createNamespacedServiceAccount({
      namespace: "staging",
      body: { metadata: { name: "jit-g-1" } },
    });
    expect(sa.metadata?.name).toBe("jit-g-1");
    const tooShort = await apiFailure(
      core.createNamespacedServiceAccountToken({
        name: "jit-g-1",
        namespace: "staging",
        body: { spec: { audiences: [], expirationSeconds: 599 } },
      }),
    );
    expect(tooShort.code).toBe(422);
    expect(tooShort.body.message).toContain("may not specify a duration less than 10 minutes");

    const issued = await core.createNamespacedServiceAccountToken({
      name: "jit-g-1",
      namespace: "staging",
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = issued.status?.token ?? "";
    expect(issued.status?.expirationTimestamp?.getTime()).toBeGreaterThan(Date.now() + 590_000);

    const whoami = kubeConfig(standin, token).makeApiClient(AuthenticationV1Api);
    const review = await whoami.createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe("system:serviceaccount:staging:jit-g-1");
    // A service account token without RBAC may not touch RoleBindings.
    const forbidden = await apiFailure(
      kubeConfig(standin, token)
        .makeApiClient(RbacAuthorizationV1Api)
        .listNamespacedRoleBinding({ namespace: "staging" }),
    );
    expect(forbidden.code).toBe(403);

    const deleted = await core.deleteNamespacedServiceAccount({ name: "jit-g-1", namespace: "staging" });
    expect(deleted.metadata?.name).toBe("jit-g-1");
    expect((await apiFailure(whoami.createSelfSubjectReview({ body: {} }))).code).toBe(401);
  });

  it("refuses ServiceAccount names that are not RFC 1123 subdomains (422)", async () => {
    const invalid = await apiFailure(
      core.createNamespacedServiceAccount({ namespace: "staging", body: { metadata: { name: "jit-g_1" } } }),
    );
    expect(invalid.code).toBe(422);
    expect(invalid.body).toMatchObject({ reason: "Invalid" });
  });

  it("tokens expire with the clock", async () => {
    await core.createNamespacedServiceAccount({
      namespace: "staging",
      body: { metadata: { name: "jit-g-2" } },
    });
    const issued = await core.createNamespacedServiceAccountToken({
      name: "jit-g-2",
      namespace: "staging",
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = issued.status?.token ?? "";
    expect(standin.authenticate(token)).toBeDefined();
    standin.advanceClock(601_000);
    try {
      expect(standin.authenticate(token)).toBeUndefined();
    } finally {
      standin.advanceClock(-601_000);
    }
  });

  it("answers 401 to unknown tokens and 403 (with the RBAC wording) to tokens without permissions", async () => {
    const unknown = await apiFailure(
      kubeConfig(standin, "nope")
        .makeApiClient(CoreV1Api)
        .listNamespacedServiceAccount({ namespace: "staging" }),
    );
    expect(unknown.code).toBe(401);
    const forbidden = await apiFailure(
      kubeConfig(standin, standin.forbiddenToken)
        .makeApiClient(RbacAuthorizationV1Api)
        .createNamespacedRoleBinding({ namespace: "staging", body: binding("x", "y") }),
    );
    expect(forbidden.code).toBe(403);
    expect(forbidden.body.message).toContain(
      'cannot create resource "rolebindings" in API group "rbac.authorization.k8s.io"',
    );
  });
});
