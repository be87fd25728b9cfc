import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccessProvider, GrantContext, GrantResult } from "../../src/providers/types.js";
import { ProviderError } from "../../src/providers/types.js";

/** What a provider's test file supplies so the shared suite can exercise it against a real backend. */
export interface ConformanceFixture {
  provider: AccessProvider;
  /**
   * Whether the access of `ctx` works right now, observed on the backend itself (logging in,
   * asking the receiver…). `granted` is the latest result of `grant(ctx)`, if any.
   */
  hasAccess(ctx: GrantContext, granted: GrantResult | undefined): Promise<boolean>;
  /** Makes the backend unreachable or failing transiently (server stopped, 503…). */
  breakProvider(): Promise<void> | void;
  /**
   * Returns a provider (the same one or a misconfigured sibling) whose next grant fails for a
   * reason retrying cannot fix. Undone by {@link restoreProvider}. Left out by a provider whose
   * contract has no permanent failure (the webhook retries every answer but 2xx).
   */
  breakPermanently?(): Promise<AccessProvider> | AccessProvider;
  /** Undoes {@link breakProvider} and {@link breakPermanently}. */
  restoreProvider(): Promise<void> | void;
  cleanup(): Promise<void>;
}

/** A fresh grant context; every test uses its own grant ids so tests never share state. */
export function grantContext(overrides: Partial<GrantContext> = {}): GrantContext {
  return {
    grantId: `g_${randomUUID()}`,
    requestId: `r_${randomUUID()}`,
    resource: "conformance-resource",
    requester: { slackId: "U0CONFORM", email: "ada@example.com", name: "Ada Lovelace" },
    identities: { email: "ada@example.com" },
    expiresAt: new Date(Date.now() + 60 * 60_000),
    reason: "conformance test",
    ...overrides,
  };
}

async function expectProviderError(promise: Promise<unknown>, transient: boolean): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected the call to fail").toBeInstanceOf(ProviderError);
  const providerError = error as ProviderError;
  expect(providerError.transient, providerError.message).toBe(transient);
  return providerError;
}

/**
 * The behaviour every {@link AccessProvider} must share (idempotent grant and revoke, independent
 * overlapping grants, honest transient/permanent errors), written once and run against each real
 * provider — in the spirit of BullMQ's adapter test suites — so a new provider proves the contract
 * by supplying a fixture rather than by re-writing the tests.
 */
export function providerConformance(name: string, factory: () => Promise<ConformanceFixture>): void {
  describe(`${name}: provider conformance`, () => {
    let fx: ConformanceFixture;

    beforeAll(async () => {
      fx = await factory();
    });

    afterAll(async () => {
      await fx?.cleanup();
    });

    it("check() passes against a healthy backend", async () => {
      await expect(fx.provider.check()).resolves.toBeUndefined();
    });

    it("grant gives access, with string details and no secret in the details", async () => {
      const ctx = grantContext();
      expect(await fx.hasAccess(ctx, undefined)).toBe(false);
      const result = await fx.provider.grant(ctx);
      expect(await fx.hasAccess(ctx, result)).toBe(true);
      for (const value of Object.values(result.details)) expect(typeof value).toBe("string");
      const shown = JSON.stringify(result.details);
      for (const secret of Object.values(result.secrets ?? {})) expect(shown).not.toContain(secret);
      await fx.provider.revoke(ctx);
    });

    it("granting again with the same grantId succeeds and still gives access", async () => {
      const ctx = grantContext();
      await fx.provider.grant(ctx);
      const again = await fx.provider.grant(ctx);
      expect(await fx.hasAccess(ctx, again)).toBe(true);
      await fx.provider.revoke(ctx);
    });

    it("revoke removes access", async () => {
      const ctx = grantContext();
      const result = await fx.provider.grant(ctx);
      await fx.provider.revoke(ctx);
      expect(await fx.hasAccess(ctx, result)).toBe(false);
    });

    it("revoking twice is fine", async () => {
      const ctx = grantContext();
      const result = await fx.provider.grant(ctx);
      await fx.provider.revoke(ctx);
      await expect(fx.provider.revoke(ctx)).resolves.toBeUndefined();
      expect(await fx.hasAccess(ctx, result)).toBe(false);
    });

    it("revoking a grantId that was never granted is fine", async () => {
      await expect(fx.provider.revoke(grantContext())).resolves.toBeUndefined();
    });

    it("overlapping grants of the same person and resource are independent", async () => {
      const first = grantContext();
      const second = grantContext({ requester: first.requester, resource: first.resource });
      const firstResult = await fx.provider.grant(first);
      const secondResult = await fx.provider.grant(second);
      await fx.provider.revoke(first);
      expect(await fx.hasAccess(first, firstResult)).toBe(false);
      expect(await fx.hasAccess(second, secondResult)).toBe(true);
      await fx.provider.revoke(second);
      expect(await fx.hasAccess(second, secondResult)).toBe(false);
    });

    describe("failures", () => {
      it("a backend that is down yields transient ProviderErrors, and the provider recovers", async () => {
        const ctx = grantContext();
        await fx.breakProvider();
        try {
          await expectProviderError(fx.provider.grant(ctx), true);
          await expectProviderError(fx.provider.revoke(ctx), true);
          await expectProviderError(fx.provider.check(), true);
        } finally {
          await fx.restoreProvider();
        }
        const result = await fx.provider.grant(ctx);
        expect(await fx.hasAccess(ctx, result)).toBe(true);
        await fx.provider.revoke(ctx);
      });

      it("a permanent failure yields a ProviderError with transient === false", async (test) => {
        if (!fx.breakPermanently) return test.skip();
        const ctx = grantContext();
        try {
          const broken = await fx.breakPermanently();
          await expectProviderError(broken.grant(ctx), false);
        } finally {
          await fx.restoreProvider();
        }
        expect(await fx.hasAccess(ctx, undefined)).toBe(false);
      });
    });
  });
}
