import type { Policy } from "../config/policy.js";
import { createProvider } from "./registry.js";
import type { AccessProvider } from "./types.js";

/** One provider instance per resource, created on first use and closed at shutdown. */
export class ProviderPool {
  private readonly instances = new Map<string, AccessProvider>();

  constructor(private readonly policy: Policy) {}

  forResource(resourceId: string): AccessProvider {
    const existing = this.instances.get(resourceId);
    if (existing) return existing;
    const resource = this.policy.resources.find((r) => r.id === resourceId);
    if (!resource) throw new Error(`resource ${resourceId} is no longer in the policy file`);
    const provider = createProvider(resource.provider, resource.settings);
    this.instances.set(resourceId, provider);
    return provider;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.instances.values()].map((p) => p.close()));
    this.instances.clear();
  }
}
