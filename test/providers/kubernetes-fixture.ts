import { expect } from "vitest";
import { objectNameFor } from "../../src/providers/kubernetes/names.js";
import { KubernetesProvider } from "../../src/providers/kubernetes/provider.js";
import { KubernetesSettings, type KubernetesSettingsInput } from "../../src/providers/kubernetes/settings.js";
import type { GrantContext } from "../../src/providers/types.js";
import { ProviderError } from "../../src/providers/types.js";
import type { KubernetesStandin } from "../support/kubernetes-standin.js";

export const NAMESPACE = "staging";

/** A provider pointed at the stand-in with inline server/token/caData; `overrides` win. */
export function providerFor(
  standin: KubernetesStandin,
  overrides: Partial<KubernetesSettingsInput> = {},
): KubernetesProvider {
  return new KubernetesProvider(
    KubernetesSettings.parse({
      namespace: NAMESPACE,
      clusterRole: "edit",
      server: standin.url,
      token: standin.adminToken,
      caData: standin.caData,
      ...overrides,
    }),
  );
}

/** The RoleBinding of `ctx` as stored by the stand-in, if any. */
export function bindingOf(standin: KubernetesStandin, ctx: Pick<GrantContext, "grantId">) {
  return standin.roleBindings(NAMESPACE).find((b) => b.metadata.name === objectNameFor(ctx.grantId));
}

export async function providerFailure(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}
