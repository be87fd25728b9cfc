import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubernetesStandin, startKubernetesStandin } from "../support/kubernetes-standin.js";
import { grantContext } from "./conformance.js";
import { bindingOf, NAMESPACE, providerFailure, providerFor } from "./kubernetes-fixture.js";

const EDIT = { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" };

describe("kubernetes sweep: deleting jit's objects whose grant has ended", () => {
  let standin: KubernetesStandin;

  beforeAll(async () => {
    standin = await startKubernetesStandin({ namespaces: [NAMESPACE] });
  });

  afterAll(async () => {
    await standin?.close();
  });

  it("deletes the bindings of ended grants only, never live grants' or anyone else's", async () => {
    const provider = providerFor(standin);
    const live = grantContext({ grantId: "G-LIVE" });
    const ended = grantContext({ grantId: "G-ENDED" });
    await provider.grant(live);
    await provider.grant(ended);
    standin.seedRoleBinding(NAMESPACE, {
      metadata: { name: "team-edit" },
      subjects: [{ kind: "User", apiGroup: EDIT.apiGroup, name: "ada@example.com" }],
      roleRef: EDIT,
    });
    // Labelled like jit's but without the grant annotation: not provably jit's, so left alone.
    standin.seedRoleBinding(NAMESPACE, {
      metadata: { name: "copied-labels", labels: { "app.kubernetes.io/managed-by": "jit" } },
      subjects: [{ kind: "User", apiGroup: EDIT.apiGroup, name: "bob@example.com" }],
      roleRef: EDIT,
    });

    const swept = await provider.sweep(new Set(["G-LIVE"]), { minAgeMs: 0 });

    expect(swept).toEqual([{ kind: "RoleBinding", name: "jit-g-ended", grantId: "G-ENDED" }]);
    expect(
      standin
        .roleBindings(NAMESPACE)
        .map((b) => b.metadata.name)
        .sort(),
    ).toEqual(["copied-labels", "jit-g-live", "team-edit"]);
    await provider.revoke(live);
    expect(await provider.sweep(new Set(), { minAgeMs: 0 })).toEqual([]);
  });

  it("leaves objects younger than minAgeMs (default 5 minutes) for a later sweep", async () => {
    const provider = providerFor(standin);
    const ctx = grantContext({ grantId: "G-FRESH" });
    await provider.grant(ctx);
    expect(await provider.sweep(new Set())).toEqual([]);
    expect(bindingOf(standin, ctx)).toBeDefined();
    const later = new Date(Date.now() + 5 * 60_000 + 2000);
    expect(await provider.sweep(new Set(), { now: later })).toEqual([
      { kind: "RoleBinding", name: "jit-g-fresh", grantId: "G-FRESH" },
    ]);
  });

  it("in credentials mode deletes the ServiceAccount first, so the handed-out token stops working", async () => {
    const provider = providerFor(standin, { credentials: true });
    const ctx = grantContext({ grantId: "G-PIPE" });
    const result = await provider.grant(ctx);
    const token = /token: (\S+)/.exec(result.secrets?.kubeconfig ?? "")?.[1] ?? "";
    expect(standin.authenticate(token)).toBeDefined();

    const swept = await provider.sweep(new Set(["G-OTHER"]), { minAgeMs: 0 });

    expect(swept).toEqual([
      { kind: "ServiceAccount", name: "jit-g-pipe", grantId: "G-PIPE" },
      { kind: "RoleBinding", name: "jit-g-pipe", grantId: "G-PIPE" },
    ]);
    expect(standin.authenticate(token)).toBeUndefined();
    expect(bindingOf(standin, ctx)).toBeUndefined();
  });

  it("fails transiently when the API server is down, so the reconciler tries again", async () => {
    const provider = providerFor(standin);
    await standin.setDown(true);
    try {
      expect((await providerFailure(provider.sweep(new Set(), { minAgeMs: 0 }))).transient).toBe(true);
    } finally {
      await standin.setDown(false);
    }
  });
});
