import { describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { KubernetesProvider } from "../../src/providers/kubernetes/provider.js";
import { PostgresProvider } from "../../src/providers/postgres/provider.js";
import { createProvider, isProviderKind, providerKinds } from "../../src/providers/registry.js";
import { WebhookProvider } from "../../src/providers/webhook/provider.js";

describe("provider registry", () => {
  it("lists exactly the built-in kinds, each with a settings schema", () => {
    expect(Object.keys(providerKinds).sort()).toEqual([
      "aws-sso",
      "github",
      "kubernetes",
      "postgres",
      "webhook",
    ]);
    expect(providerKinds.webhook.settings.parse({ url: "https://h/x", secret: "x".repeat(16) }).timeout).toBe(
      "10s",
    );
    expect(providerKinds.postgres.settings.safeParse({ url: "postgres://h/db" }).success).toBe(false);
  });

  it("creates the provider of the requested kind from validated settings", async () => {
    const webhook = createProvider("webhook", {
      url: "https://hooks.example.com/jit",
      secret: "x".repeat(16),
    });
    expect(webhook).toBeInstanceOf(WebhookProvider);
    await webhook.close();
    // Creating a postgres provider opens no connection until it is used.
    const postgres = createProvider("postgres", { url: "postgres://u:p@127.0.0.1:1/app", roles: ["r"] });
    expect(postgres).toBeInstanceOf(PostgresProvider);
    await postgres.close();
    // Nor does a kubernetes provider read its kubeconfig before it is used.
    const kubernetes = createProvider("kubernetes", {
      namespace: "dev",
      role: "r",
      kubeconfig: "/nonexistent",
    });
    expect(kubernetes).toBeInstanceOf(KubernetesProvider);
    await kubernetes.close();
  });

  it("validates untyped settings (e.g. straight from YAML) and rejects wrong ones", () => {
    const fromYaml: unknown = { url: "https://hooks.example.com/jit", secret: "short" };
    expect(() => createProvider("webhook", fromYaml)).toThrow(ZodError);
    expect(() => createProvider("postgres", { url: "https://not-postgres", roles: ["r"] })).toThrow(ZodError);
  });

  it("a reference-counted provider refuses to start without the database for its counts", () => {
    const settings = { org: "acme", team: "platform", token: "ghp_x" };
    expect(() => createProvider("github", settings)).toThrow(/github provider needs the database/);
  });

  it("isProviderKind narrows strings and ignores prototype keys", () => {
    expect(isProviderKind("postgres")).toBe(true);
    expect(isProviderKind("webhook")).toBe(true);
    expect(isProviderKind("github")).toBe(true);
    expect(isProviderKind("gitlab")).toBe(false);
    expect(isProviderKind("toString")).toBe(false);
  });
});
