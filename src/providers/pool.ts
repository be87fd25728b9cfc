import type { Policy } from "../config/policy.js";
import { ProviderHolds } from "./holds.js";
import { createProvider } from "./registry.js";
import type { AccessProvider } from "./types.js";

/**
 * One provider instance per resource, created on first use and closed at shutdown. The pool also
 * owns the reference counts (PostgreSQL, see holds.ts) that counted providers share.
 */
export class ProviderPool {
  private readonly instances = new Map<string, AccessProvider>();
  private readonly holds: ProviderHolds;

  constructor(
    private readonly policy: Policy,
    databaseUrl: string,
  ) {
    this.holds = new ProviderHolds(databaseUrl);
  }

  forResource(resourceId: string): AccessProvider {
    const existing = this.instances.get(resourceId);
    if (existing) return existing;
    const resource = this.policy.resources.find((r) => r.id === resourceId);
    if (!resource) throw new Error(`resource ${resourceId} is no longer in the policy file`);
    const provider = createProvider(resource.provider, resource.settings, { holds: this.holds });
    this.instances.set(resourceId, provider);
    return provider;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.instances.values()].map((p) => p.close()));
    this.instances.clear();
    await this.holds.close();
  }
}
