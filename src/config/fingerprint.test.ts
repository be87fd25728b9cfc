import { describe, expect, it } from "vitest";
import { resourceFingerprint } from "./fingerprint.js";

const postgres = (settings: Record<string, unknown>) => ({ provider: "postgres" as const, settings });

describe("resourceFingerprint", () => {
  const base = { url: "postgresql://admin:s3cret@db.internal:5432/app", roles: ["app_rw"] };

  it("ignores credentials: a rotated password, secret or token is not a new target", () => {
    const rotated = { ...base, url: "postgresql://admin:other@db.internal:5432/app" };
    expect(resourceFingerprint(postgres(rotated))).toBe(resourceFingerprint(postgres(base)));
    const hook = (secret: string) => ({
      provider: "webhook" as const,
      settings: { url: "https://hooks.example/jit", secret, token: secret },
    });
    expect(resourceFingerprint(hook("a".repeat(20)))).toBe(resourceFingerprint(hook("b".repeat(20))));
  });

  it("changes with where access lives: host, database, roles, provider, flags", () => {
    const fingerprint = resourceFingerprint(postgres(base));
    for (const changed of [
      { ...base, url: "postgresql://admin:s3cret@other.internal:5432/app" },
      { ...base, url: "postgresql://admin:s3cret@db.internal:5432/other" },
      { ...base, roles: ["app_admin"] },
      { ...base, credentials: true },
    ]) {
      expect(resourceFingerprint(postgres(changed))).not.toBe(fingerprint);
    }
    expect(resourceFingerprint({ provider: "webhook", settings: base })).not.toBe(fingerprint);
  });

  it("does not depend on key order and never contains the secret", () => {
    const reordered = { roles: ["app_rw"], url: base.url };
    expect(resourceFingerprint(postgres(reordered))).toBe(resourceFingerprint(postgres(base)));
    expect(resourceFingerprint(postgres(base))).toMatch(/^[0-9a-f]{32}$/);
  });
});
