import { createHmac } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProviderError } from "../../src/providers/types.js";
import { parseDuration } from "../../src/providers/webhook/duration.js";
import { WebhookProvider } from "../../src/providers/webhook/provider.js";
import { WebhookSettings } from "../../src/providers/webhook/settings.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";
import { grantContext, providerConformance } from "./conformance.js";

const SECRET = "s3cr3t-for-webhook-tests-0123456789";

async function failureOf(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

providerConformance("webhook", async () => {
  const receiver = await startWebhookReceiver({ secret: SECRET });
  const provider = new WebhookProvider(WebhookSettings.parse({ url: receiver.url, secret: SECRET }));
  return {
    provider,
    hasAccess: async (ctx) => receiver.active.has(ctx.grantId),
    breakProvider: () => receiver.setDown(true),
    breakPermanently: () => {
      receiver.setMode("reject");
      return provider;
    },
    restoreProvider: () => receiver.setMode("ok"),
    async cleanup() {
      await provider.close();
      await receiver.close();
    },
  };
});

describe("webhook provider against a local receiver", () => {
  let receiver: WebhookReceiver;
  let provider: WebhookProvider;

  beforeAll(async () => {
    receiver = await startWebhookReceiver({ secret: SECRET });
    provider = new WebhookProvider(
      WebhookSettings.parse({ url: receiver.url, secret: SECRET, timeout: "2s" }),
    );
  });

  beforeEach(() => {
    receiver.setMode("ok");
  });

  afterAll(async () => {
    await receiver?.close();
  });

  it("signs `<timestamp>.<raw body>` with HMAC-SHA256 and the receiver accepts it", async () => {
    const before = Math.floor(Date.now() / 1000);
    const ctx = grantContext();
    await provider.grant(ctx);
    const received = receiver.events.at(-1);
    if (!received) throw new Error("nothing received");
    const timestamp = String(received.headers["x-jit-timestamp"]);
    expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
    expect(Number(timestamp)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    const expected = createHmac("sha256", SECRET).update(`${timestamp}.${received.raw}`).digest("hex");
    expect(received.headers["x-jit-signature"]).toBe(`v1=${expected}`);
    expect(received.headers["content-type"]).toBe("application/json");
    expect(receiver.rejected).toEqual([]);
  });

  it("posts exactly the documented body, for grant and for revoke", async () => {
    const expiresAt = new Date("2030-01-02T03:04:05.678Z");
    const ctx = grantContext({ expiresAt, resource: "deploy-prod", reason: "incident #42 — “quotes”" });
    await provider.grant(ctx);
    await provider.revoke(ctx);
    const [grant, revoke] = receiver.events.slice(-2);
    const expected = {
      grantId: ctx.grantId,
      requestId: ctx.requestId,
      resource: "deploy-prod",
      requester: { slackId: "U0CONFORM", email: "ada@example.com", name: "Ada Lovelace" },
      expiresAt: "2030-01-02T03:04:05.678Z",
      reason: "incident #42 — “quotes”",
    };
    expect(grant?.body).toStrictEqual({ event: "grant", ...expected });
    expect(revoke?.body).toStrictEqual({ event: "revoke", ...expected });
    expect(Object.keys(grant?.body ?? {})).toEqual([
      "event",
      "grantId",
      "requestId",
      "resource",
      "requester",
      "expiresAt",
      "reason",
    ]);
  });

  it("sends null for a requester's missing email and name rather than dropping the keys", async () => {
    const ctx = grantContext({ requester: { slackId: "U0NOEMAIL" } });
    await provider.grant(ctx);
    expect(receiver.events.at(-1)?.body.requester).toStrictEqual({
      slackId: "U0NOEMAIL",
      email: null,
      name: null,
    });
    await provider.revoke(ctx);
  });

  it("returns the endpoint (origin + path, no query string) as the only detail", async () => {
    const ctx = grantContext();
    const result = await provider.grant(ctx);
    const url = new URL(receiver.url);
    expect(result).toStrictEqual({ details: { endpoint: `${url.origin}/hooks/jit` } });
    await provider.revoke(ctx);
  });

  it("a receiver with another secret rejects the signature; that 401 is permanent", async () => {
    const other = new WebhookProvider(
      WebhookSettings.parse({ url: receiver.url, secret: "another-secret-of-enough-length" }),
    );
    const rejectedBefore = receiver.rejected.length;
    const error = await failureOf(other.grant(grantContext()));
    expect(error.transient).toBe(false);
    expect(error.message).toContain("401");
    expect(error.message).not.toContain("another-secret-of-enough-length");
    expect(receiver.rejected.slice(rejectedBefore).map((r) => r.reason)).toEqual(["bad-signature"]);
  });

  it("no answer within the timeout is transient, and fails at about the timeout", async () => {
    receiver.setMode("timeout");
    const quick = new WebhookProvider(
      WebhookSettings.parse({ url: receiver.url, secret: SECRET, timeout: "300ms" }),
    );
    const started = performance.now();
    const error = await failureOf(quick.grant(grantContext()));
    const elapsed = performance.now() - started;
    expect(error.transient).toBe(true);
    expect(error.message).toContain("300 ms");
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
  });

  it("a network error (nothing listening) is transient", async () => {
    const gone = await startWebhookReceiver({ secret: SECRET });
    await gone.close();
    const nowhere = new WebhookProvider(
      WebhookSettings.parse({ url: gone.url, secret: SECRET, timeout: "2s" }),
    );
    const error = await failureOf(nowhere.revoke(grantContext()));
    expect(error.transient).toBe(true);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it.each([500, 502, 503, 504, 408, 429])("HTTP %i is transient", async (status) => {
    receiver.setMode("status", status);
    const error = await failureOf(provider.grant(grantContext()));
    expect(error.transient).toBe(true);
    expect(error.message).toContain(`HTTP ${status}`);
  });

  it.each([400, 401, 403, 409, 422])("HTTP %i is permanent", async (status) => {
    receiver.setMode("status", status);
    const error = await failureOf(provider.grant(grantContext()));
    expect(error.transient).toBe(false);
    expect(error.message).toContain(`HTTP ${status}`);
  });

  it("makes exactly one HTTP attempt per call, even when the receiver fails", async () => {
    receiver.setDown(true);
    const hits = receiver.hits;
    await failureOf(provider.grant(grantContext()));
    expect(receiver.hits).toBe(hits + 1);
  });

  it("404 on revoke is success (the receiver does not know the grant); 404 on grant is permanent", async () => {
    const unknown = grantContext();
    await expect(provider.revoke(unknown)).resolves.toBeUndefined();
    expect(receiver.events.at(-1)?.body.grantId).toBe(unknown.grantId);
    receiver.setMode("status", 404);
    const error = await failureOf(provider.grant(grantContext()));
    expect(error.transient).toBe(false);
  });

  it("never puts the secret or the URL's query string in errors", async () => {
    receiver.setMode("status", 500);
    const error = await failureOf(provider.grant(grantContext()));
    expect(`${error.message} ${String(error.cause)}`).not.toContain(SECRET);
    expect(error.message).not.toContain("team=test");
    expect(error.message).toContain("/hooks/jit");
  });

  it("check() probes with an unsigned HEAD: any answer below 500 is fine, 5xx is transient", async () => {
    const probes = receiver.probes;
    const events = receiver.events.length;
    await expect(provider.check()).resolves.toBeUndefined();
    expect(receiver.probes).toBe(probes + 1);
    expect(receiver.events).toHaveLength(events);
    expect(receiver.rejected.filter((r) => r.headers["x-jit-signature"] === undefined)).toEqual([]);
    receiver.setMode("status", 404);
    await expect(provider.check()).resolves.toBeUndefined();
    receiver.setMode("status", 502);
    await expect(provider.check()).rejects.toMatchObject({ transient: true });
  });

  it("close() is harmless and idempotent", async () => {
    const extra = new WebhookProvider(WebhookSettings.parse({ url: receiver.url, secret: SECRET }));
    await extra.close();
    await expect(extra.close()).resolves.toBeUndefined();
  });
});

describe("WebhookSettings", () => {
  it("defaults the timeout to 10s and accepts ms, s and m", () => {
    expect(WebhookSettings.parse({ url: "https://hooks.example.com/jit", secret: "x".repeat(16) })).toEqual({
      url: "https://hooks.example.com/jit",
      secret: "x".repeat(16),
      timeout: "10s",
    });
    for (const timeout of ["500ms", "10s", "2m", "1.5s"]) {
      expect(WebhookSettings.safeParse({ url: "http://h/x", secret: "x".repeat(16), timeout }).success).toBe(
        true,
      );
    }
  });

  it("rejects bad URLs, short secrets, bad or huge timeouts and unknown keys", () => {
    const ok = { url: "https://h/x", secret: "x".repeat(16) };
    expect(WebhookSettings.safeParse({ ...ok, url: "ftp://h/x" }).success).toBe(false);
    expect(WebhookSettings.safeParse({ ...ok, url: "hooks.example.com" }).success).toBe(false);
    expect(WebhookSettings.safeParse({ ...ok, secret: "x".repeat(15) }).success).toBe(false);
    for (const timeout of ["10", "ten seconds", "0s", "-1s", "10d", "6m", ""]) {
      expect(WebhookSettings.safeParse({ ...ok, timeout }).success, timeout).toBe(false);
    }
    expect(WebhookSettings.safeParse({ ...ok, retries: 3 }).success).toBe(false);
  });

  it("parseDuration converts to milliseconds", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("10s")).toBe(10_000);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration(" 1.5s ")).toBe(1500);
    expect(parseDuration("s")).toBeUndefined();
    expect(parseDuration("1 s")).toBeUndefined();
  });
});
