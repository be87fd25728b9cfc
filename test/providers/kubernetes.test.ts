import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KubernetesProvider } from "../../src/providers/kubernetes/provider.js";
import { KubernetesSettings } from "../../src/providers/kubernetes/settings.js";
import { type KubernetesStandin, startKubernetesStandin } from "../support/kubernetes-standin.js";
import { grantContext, providerConformance } from "./conformance.js";
import { bindingOf, NAMESPACE, providerFailure, providerFor } from "./kubernetes-fixture.js";

providerConformance("kubernetes (RoleBinding per grant)", async () => {
  const standin = await startKubernetesStandin({ namespaces: [NAMESPACE] });
  const provider = providerFor(standin);
  return {
    provider,
    // Per grant: its own binding, for the person's identity, to the role.
    hasAccess: async (ctx) => {
      const binding = bindingOf(standin, ctx);
      return (
        binding?.roleRef.name === "edit" &&
        binding.subjects?.length === 1 &&
        binding.subjects[0]?.kind === "User" &&
        binding.subjects[0]?.name === ctx.identities.email
      );
    },
    breakProvider: () => standin.setDown(true),
    breakPermanently: () => providerFor(standin, { token: standin.forbiddenToken }),
    restoreProvider: async () => {
      standin.failWith(undefined);
      await standin.setDown(false);
    },
    async cleanup() {
      await provider.close();
      await standin.close();
    },
  };
});

describe("kubernetes provider: bindings for people", () => {
  let standin: KubernetesStandin;
  let provider: KubernetesProvider;
  const roles = (user: string) => standin.boundRoles(NAMESPACE, { kind: "User", name: user });

  beforeAll(async () => {
    standin = await startKubernetesStandin({ namespaces: [NAMESPACE] });
    provider = providerFor(standin);
  });

  beforeEach(async () => {
    standin.failWith(undefined);
    await standin.setDown(false);
  });

  afterAll(async () => {
    await standin?.close();
  });

  it("binds the requester's identity to the role in a RoleBinding named and labelled from the grant id", async () => {
    const ctx = grantContext({ grantId: "G-7KQ2", requestId: "R-7KQ2", resource: "staging-edit" });
    const result = await provider.grant(ctx);
    const binding = bindingOf(standin, ctx);
    expect(binding?.metadata.name).toBe("jit-g-7kq2");
    expect(binding?.metadata.labels).toEqual({
      "app.kubernetes.io/managed-by": "jit",
      "jit/grant-id": "G-7KQ2",
    });
    expect(binding?.metadata.annotations).toMatchObject({
      "jit/grant-id": "G-7KQ2",
      "jit/request-id": "R-7KQ2",
      "jit/resource": "staging-edit",
    });
    expect(binding?.subjects).toEqual([
      { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "ada@example.com" },
    ]);
    expect(binding?.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "edit",
    });
    expect(result).toEqual({
      details: {
        namespace: NAMESPACE,
        role: "ClusterRole/edit",
        user: "ada@example.com",
        roleBinding: "jit-g-7kq2",
      },
    });
    await provider.revoke(ctx);
    expect(bindingOf(standin, ctx)).toBeUndefined();
  });

  it("binds a Role, and the identity named by `identity`, not the e-mail", async () => {
    const named = providerFor(standin, { clusterRole: undefined, role: "deployer", identity: "kubernetes" });
    expect(named.identityKey).toBe("kubernetes");
    expect(provider.identityKey).toBe("email");
    const ctx = grantContext({ identities: { email: "ada@example.com", kubernetes: "ada" } });
    await named.grant(ctx);
    expect(bindingOf(standin, ctx)?.subjects?.[0]?.name).toBe("ada");
    expect(bindingOf(standin, ctx)?.roleRef).toMatchObject({ kind: "Role", name: "deployer" });
    await named.revoke(ctx);
  });

  it("refuses, for good and creating nothing, a requester without the identity, and says what to add", async () => {
    const named = providerFor(standin, { identity: "kubernetes" });
    const ctx = grantContext({ identities: { email: "ada@example.com" } });
    const error = await providerFailure(named.grant(ctx));
    expect(error.transient).toBe(false);
    expect(error.message).toContain('no "kubernetes" identity');
    expect(error.message).toContain("identities");
    expect(bindingOf(standin, ctx)).toBeUndefined();
  });

  it("keeps the person's access until the last of overlapping grants ends", async () => {
    const user = "overlap@example.com";
    const first = grantContext({ identities: { email: user } });
    const second = grantContext({ identities: { email: user } });
    await provider.grant(first);
    await provider.grant(second);
    await provider.revoke(first);
    expect(roles(user)).toEqual(["ClusterRole/edit"]);
    await provider.revoke(second);
    expect(roles(user)).toEqual([]);
  });

  it("never touches bindings jit did not make, even for the same person and role", async () => {
    const user = "existing@example.com";
    standin.seedRoleBinding(NAMESPACE, {
      metadata: { name: "team-edit" },
      subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: user }],
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
    });
    const ctx = grantContext({ identities: { email: user } });
    await provider.grant(ctx);
    await provider.revoke(ctx);
    expect(roles(user)).toEqual(["ClusterRole/edit"]);
    expect(standin.roleBindings(NAMESPACE).map((b) => b.metadata.name)).toContain("team-edit");
  });

  it("leaves alone a binding that merely has jit's name, refusing the grant and ignoring it on revoke", async () => {
    const ctx = grantContext({ grantId: "G-TAKEN" });
    standin.seedRoleBinding(NAMESPACE, {
      metadata: { name: "jit-g-taken" },
      subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "someone-else" }],
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "admin" },
    });
    const error = await providerFailure(provider.grant(ctx));
    expect(error.transient).toBe(false);
    expect(error.message).toContain(
      'a RoleBinding named "jit-g-taken" already exists in namespace "staging" and was not made by jit',
    );
    await provider.revoke(ctx);
    expect(bindingOf(standin, ctx)?.subjects?.[0]?.name).toBe("someone-else");
  });

  it("refuses to re-grant a grant whose binding now names someone else (identity changed)", async () => {
    const ctx = grantContext({ identities: { email: "before@example.com" } });
    await provider.grant(ctx);
    const error = await providerFailure(
      provider.grant({ ...ctx, identities: { email: "after@example.com" } }),
    );
    expect(error.transient).toBe(false);
    expect(error.message).toContain("different subject or role");
    await provider.revoke(ctx);
    expect(bindingOf(standin, ctx)).toBeUndefined();
  });

  it("treats a busy API server (503) as transient and a missing namespace as permanent", async () => {
    standin.failWith(503);
    const busy = await providerFailure(provider.grant(grantContext()));
    expect(busy.transient).toBe(true);
    expect(busy.message).toContain("HTTP 503");
    standin.failWith(undefined);
    const elsewhere = providerFor(standin, { namespace: "ghost" });
    const missing = await providerFailure(elsewhere.grant(grantContext()));
    expect(missing.transient).toBe(false);
    expect(missing.message).toContain('namespaces "ghost" not found');
  });

  it("says which RBAC jit lacks on 403, and that the token was refused on 401, without quoting tokens", async () => {
    const forbidden = providerFor(standin, { token: standin.forbiddenToken });
    const denied = await providerFailure(forbidden.grant(grantContext()));
    expect(denied.transient).toBe(false);
    expect(denied.message).toContain(
      'cannot create resource "rolebindings" in API group "rbac.authorization.k8s.io"',
    );
    expect(denied.message).toContain("README");
    expect((await providerFailure(forbidden.check())).message).toContain("forbidden (403)");
    const unknown = providerFor(standin, { token: "not-a-real-token" });
    const refused = await providerFailure(unknown.grant(grantContext()));
    expect(refused.transient).toBe(false);
    expect(refused.message).toContain("401");
    for (const message of [denied.message, refused.message]) {
      expect(message).not.toContain(standin.forbiddenToken);
      expect(message).not.toContain("not-a-real-token");
    }
  });

  it("fails for good, naming the CA, when the server's certificate is not the configured CA's", async () => {
    const other = await startKubernetesStandin({ namespaces: [NAMESPACE] });
    try {
      const wrongCa = providerFor(standin, { caData: other.caData });
      const error = await providerFailure(wrongCa.grant(grantContext()));
      expect(error.transient).toBe(false);
      expect(error.message).toContain("check caData");
    } finally {
      await other.close();
    }
  });

  it("reads a kubeconfig file (with a certificate-authority file), and loads it only when first used", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jit-kubeconfig-"));
    try {
      await writeFile(join(dir, "ca.pem"), Buffer.from(standin.caData, "base64"));
      const kubeconfig = [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{ name: c, cluster: { server: "${standin.url}", certificate-authority: ca.pem } }]`,
        `users: [{ name: u, user: { token: "${standin.adminToken}" } }]`,
        "contexts: [{ name: x, context: { cluster: c, user: u } }]",
        "current-context: x",
      ].join("\n");
      await writeFile(join(dir, "config"), kubeconfig);
      const fromFile = new KubernetesProvider(
        KubernetesSettings.parse({
          namespace: NAMESPACE,
          clusterRole: "view",
          kubeconfig: join(dir, "config"),
        }),
      );
      await fromFile.check();
      const ctx = grantContext();
      await fromFile.grant(ctx);
      expect(bindingOf(standin, ctx)?.roleRef.name).toBe("view");
      await fromFile.revoke(ctx);

      const missing = new KubernetesProvider(
        KubernetesSettings.parse({
          namespace: NAMESPACE,
          clusterRole: "view",
          kubeconfig: join(dir, "nope"),
        }),
      );
      const error = await providerFailure(missing.grant(grantContext()));
      expect(error.transient).toBe(false);
      expect(error.message).toContain("cannot load the cluster configuration");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("without server or kubeconfig outside a cluster, says how to configure it", async () => {
    const inCluster = new KubernetesProvider(
      KubernetesSettings.parse({ namespace: NAMESPACE, clusterRole: "view" }),
    );
    const error = await providerFailure(inCluster.check());
    expect(error.transient).toBe(false);
    expect(error.message).toContain("not running in a cluster: set server, token and caData, or kubeconfig");
  });
});
