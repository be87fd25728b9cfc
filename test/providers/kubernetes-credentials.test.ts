import { ApiException, AuthenticationV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { objectNameFor } from "../../src/providers/kubernetes/names.js";
import type { KubernetesProvider } from "../../src/providers/kubernetes/provider.js";
import type { GrantContext, GrantResult } from "../../src/providers/types.js";
import { type KubernetesStandin, startKubernetesStandin } from "../support/kubernetes-standin.js";
import { grantContext, providerConformance } from "./conformance.js";
import { bindingOf, NAMESPACE, providerFailure, providerFor } from "./kubernetes-fixture.js";

/** The token inside a handed-out kubeconfig. */
function tokenOf(result: GrantResult | undefined): string | undefined {
  const text = result?.secrets?.kubeconfig;
  if (!text) return undefined;
  return (parse(text) as { users: Array<{ user: { token: string } }> }).users[0]?.user.token;
}

/** The token authenticates, and its service account holds the role through this grant's binding. */
function credentialsWork(
  standin: KubernetesStandin,
  ctx: GrantContext,
  result: GrantResult | undefined,
): boolean {
  const name = objectNameFor(ctx.grantId);
  const bound = standin.boundRoles(NAMESPACE, { kind: "ServiceAccount", name }).includes("ClusterRole/edit");
  const token = tokenOf(result);
  if (!token) return bound;
  return bound && standin.authenticate(token) === `system:serviceaccount:${NAMESPACE}:${name}`;
}

/** Who the kubeconfig's token is, asked through the official client exactly as kubectl would. */
async function whoAmI(kubeconfig: string): Promise<string | number> {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig);
  try {
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    return review.status?.userInfo?.username ?? "";
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

providerConformance("kubernetes (credentials: ServiceAccount + TokenRequest)", async () => {
  const standin = await startKubernetesStandin({ namespaces: [NAMESPACE] });
  const provider = providerFor(standin, { credentials: true });
  return {
    provider,
    hasAccess: async (ctx, granted) => credentialsWork(standin, ctx, granted),
    breakProvider: () => standin.setDown(true),
    breakPermanently: () => providerFor(standin, { credentials: true, token: standin.forbiddenToken }),
    restoreProvider: () => standin.setDown(false),
    async cleanup() {
      await provider.close();
      await standin.close();
    },
  };
});

describe("kubernetes provider: credentials for pipelines", () => {
  let standin: KubernetesStandin;
  let provider: KubernetesProvider;
  /** `expirationSeconds` of the latest TokenRequest the stand-in received. */
  const lastTokenSeconds = () => {
    const last = standin.requests.filter((r) => r.method === "POST" && r.path.endsWith("/token")).at(-1);
    return (last?.body as { spec?: { expirationSeconds?: number } } | undefined)?.spec?.expirationSeconds;
  };

  beforeAll(async () => {
    standin = await startKubernetesStandin({ namespaces: [NAMESPACE] });
    provider = providerFor(standin, { credentials: true });
  });

  afterAll(async () => {
    await standin?.close();
  });

  it("needs no person identity", () => {
    expect(provider.identityKey).toBeUndefined();
  });

  it("hands out a kubeconfig (server, CA, token, namespace) that works until the revoke", async () => {
    const ctx = grantContext({ grantId: "G-CRED1", identities: {} });
    const result = await provider.grant(ctx);
    const kubeconfig = result.secrets?.kubeconfig ?? "";
    const parsed = parse(kubeconfig);
    expect(parsed.clusters[0].cluster).toEqual({
      server: standin.url,
      "certificate-authority-data": standin.caData,
    });
    expect(parsed.contexts[0].context.namespace).toBe(NAMESPACE);
    expect(await whoAmI(kubeconfig)).toBe(`system:serviceaccount:${NAMESPACE}:jit-g-cred1`);

    const account = standin.serviceAccounts(NAMESPACE).find((a) => a.metadata.name === "jit-g-cred1");
    expect(account?.metadata.labels?.["app.kubernetes.io/managed-by"]).toBe("jit");
    expect(bindingOf(standin, ctx)?.subjects).toEqual([
      { kind: "ServiceAccount", name: "jit-g-cred1", namespace: NAMESPACE },
    ]);
    expect(result.details).toMatchObject({
      namespace: NAMESPACE,
      serviceAccount: "jit-g-cred1",
      role: "ClusterRole/edit",
    });
    expect(JSON.stringify(result.details)).not.toContain(tokenOf(result));

    await provider.revoke(ctx);
    expect(await whoAmI(kubeconfig)).toBe(401);
    expect(standin.serviceAccounts(NAMESPACE).some((a) => a.metadata.name === "jit-g-cred1")).toBe(false);
    expect(bindingOf(standin, ctx)).toBeUndefined();
  });

  it("asks for a token that lives as long as the grant", async () => {
    const ctx = grantContext({ expiresAt: new Date(Date.now() + 2 * 3600_000) });
    const result = await provider.grant(ctx);
    const seconds = lastTokenSeconds();
    expect(seconds).toBeGreaterThan(7190);
    expect(seconds).toBeLessThanOrEqual(7200);
    const expiresAt = Date.parse(result.details.tokenExpiresAt ?? "");
    expect(Math.abs(expiresAt - ctx.expiresAt.getTime())).toBeLessThan(10_000);
    await provider.revoke(ctx);
  });

  it("asks for 600 s, Kubernetes' minimum, for shorter grants, and the token then dies on its own", async () => {
    const ctx = grantContext({ expiresAt: new Date(Date.now() + 5 * 60_000) });
    const result = await provider.grant(ctx);
    expect(lastTokenSeconds()).toBe(600);
    const token = tokenOf(result) ?? "";
    expect(standin.authenticate(token)).toBeDefined();
    standin.advanceClock(601_000);
    try {
      expect(standin.authenticate(token)).toBeUndefined();
    } finally {
      standin.advanceClock(-601_000);
    }
    await provider.revoke(ctx);
  });

  it("never puts the token in an error message", async () => {
    const forbidden = providerFor(standin, { credentials: true, token: standin.forbiddenToken });
    const error = await providerFailure(forbidden.grant(grantContext()));
    expect(error.message).toContain('cannot create resource "serviceaccounts"');
    expect(error.message).not.toContain(standin.forbiddenToken);
  });
});
