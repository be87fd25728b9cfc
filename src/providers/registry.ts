import type { z } from "zod";
import { AwsSsoProvider } from "./aws-sso/provider.js";
import { AwsSsoSettings } from "./aws-sso/settings.js";
import { GithubProvider } from "./github/provider.js";
import { GithubSettings } from "./github/settings.js";
import { KubernetesProvider } from "./kubernetes/provider.js";
import { KubernetesSettings } from "./kubernetes/settings.js";
import { PostgresProvider } from "./postgres/provider.js";
import { PostgresSettings } from "./postgres/settings.js";
import type { AccessProvider, ProviderRuntime } from "./types.js";
import { WebhookProvider } from "./webhook/provider.js";
import { WebhookSettings } from "./webhook/settings.js";

/**
 * Every provider kind jit knows, as a static typed map rather than a plugin loader: the config
 * module validates `resources[i].settings` with `providerKinds[kind].settings`, and adding a kind is
 * a code change that the type checker follows everywhere.
 */
export const providerKinds = {
  postgres: {
    settings: PostgresSettings,
    create: (settings: PostgresSettings): AccessProvider => new PostgresProvider(settings),
  },
  webhook: {
    settings: WebhookSettings,
    create: (settings: WebhookSettings): AccessProvider => new WebhookProvider(settings),
  },
  github: {
    settings: GithubSettings,
    create: (settings: GithubSettings, runtime: ProviderRuntime): AccessProvider =>
      new GithubProvider(settings, runtime),
  },
  "aws-sso": {
    settings: AwsSsoSettings,
    create: (settings: AwsSsoSettings, runtime: ProviderRuntime): AccessProvider =>
      new AwsSsoProvider(settings, runtime),
  },
  kubernetes: {
    settings: KubernetesSettings,
    create: (settings: KubernetesSettings): AccessProvider => new KubernetesProvider(settings),
  },
} as const;

export type ProviderKind = keyof typeof providerKinds;

/** Validated settings of one kind (defaults applied). */
export type ProviderSettings<K extends ProviderKind> = z.output<(typeof providerKinds)[K]["settings"]>;
/** Settings of one kind as written in the config file (defaults optional). */
export type ProviderSettingsInput<K extends ProviderKind> = z.input<(typeof providerKinds)[K]["settings"]>;

/** Narrows an arbitrary string (e.g. from YAML) to a known kind. */
export function isProviderKind(kind: string): kind is ProviderKind {
  return Object.hasOwn(providerKinds, kind);
}

/**
 * Validates `settings` against the kind's schema (applying defaults; throws a `ZodError` when they
 * are wrong) and builds the provider. The caller owns it and must `close()` it. Settings may be typed
 * or come straight from a parsed config file (`unknown`): they are validated here either way.
 * `runtime` carries what counted providers (github, aws-sso) need: the reference counts.
 */
export function createProvider<K extends ProviderKind>(
  kind: K,
  settings: ProviderSettingsInput<K>,
  runtime?: ProviderRuntime,
): AccessProvider;
export function createProvider(
  kind: ProviderKind,
  settings: unknown,
  runtime?: ProviderRuntime,
): AccessProvider;
export function createProvider(
  kind: ProviderKind,
  settings: unknown,
  runtime: ProviderRuntime = {},
): AccessProvider {
  switch (kind) {
    case "postgres":
      return providerKinds.postgres.create(providerKinds.postgres.settings.parse(settings));
    case "webhook":
      return providerKinds.webhook.create(providerKinds.webhook.settings.parse(settings));
    case "github":
      return providerKinds.github.create(providerKinds.github.settings.parse(settings), runtime);
    case "aws-sso":
      return providerKinds["aws-sso"].create(providerKinds["aws-sso"].settings.parse(settings), runtime);
    case "kubernetes":
      return providerKinds.kubernetes.create(providerKinds.kubernetes.settings.parse(settings));
    default: {
      const unknownKind: never = kind;
      throw new Error(`unknown provider kind: ${String(unknownKind)}`);
    }
  }
}
