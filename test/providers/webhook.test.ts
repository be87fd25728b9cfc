import { createHmac } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { safeErrorMessage } from "../../src/app/provider-context.js";
import { ConfigError } from "../../src/config/env.js";
import { parsePolicy } from "../../src/config/load-policy.js";
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
    // No breakPermanently: the contract retries every answer but 2xx, so a webhook never fails for good.
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

  it("returns the endpoint's host (scheme, host, port; no path, no query) as the only detail", async () => {
    const ctx = grantContext();
    const result = await provider.grant(ctx);
    expect(result).toStrictEqual({ details: { endpoint: new URL(receiver.url).origin } });
    await provider.revoke(ctx);
  });

  it("a receiver with another secret rejects the signature; that 401 is retried like any non-2xx", async () => {
    const other = new WebhookProvider(
      WebhookSettings.parse({ url: receiver.url, secret: "another-secret-of-enough-length" }),
    );
    const rejectedBefore = receiver.rejected.length;
    const error = await failureOf(other.grant(grantContext()));
    expect(error.transient).toBe(true);
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

  // The contract: a 2xx is success, anything else is retried. A 4xx may be a receiver being
  // redeployed or misrouted for a minute; the job layer's bounded attempts end a grant that never works.
  it.each([400, 401, 403, 404, 409, 422, 301, 302, 307, 308])("HTTP %i is transient", async (status) => {
    receiver.setMode("status", status);
    const error = await failureOf(provider.grant(grantContext()));
    expect(error.transient).toBe(true);
    expect(error.message).toContain(`HTTP ${status}`);
  });

  it("does not follow redirects: one request, and nothing reaches the Location", async () => {
    const before = receiver.requests.length;
    receiver.setMode("status", 307);
    await failureOf(provider.grant(grantContext()));
    expect(receiver.requests.slice(before).map((r) => [r.method, r.status])).toEqual([["POST", 307]]);
    expect(receiver.requests.some((r) => r.url === "/elsewhere")).toBe(false);
  });

  it("makes exactly one HTTP attempt per call, even when the receiver fails", async () => {
    receiver.setDown(true);
    const hits = receiver.hits;
    await failureOf(provider.grant(grantContext()));
    expect(receiver.hits).toBe(hits + 1);
  });

  it("404 on revoke is success (the receiver does not know the grant); 404 on grant is retried", async () => {
    const unknown = grantContext();
    await expect(provider.revoke(unknown)).resolves.toBeUndefined();
    expect(receiver.events.at(-1)?.body.grantId).toBe(unknown.grantId);
    receiver.setMode("status", 404);
    const error = await failureOf(provider.grant(grantContext()));
    expect(error.transient).toBe(true);
  });

  it("X-JIT-Delivery is the same on every retry of one event, from any instance, and differs between grant and revoke", async () => {
    const ctx = grantContext();
    const before = receiver.requests.length;
    receiver.failNext(2, 503);
    await failureOf(provider.grant(ctx));
    // Another worker (or the same one after a crash) retries with its own provider instance.
    const otherWorker = new WebhookProvider(WebhookSettings.parse({ url: receiver.url, secret: SECRET }));
    await failureOf(otherWorker.grant(ctx));
    await otherWorker.grant(ctx);
    await provider.revoke(ctx);
    await provider.revoke(ctx); // a repeated revoke (404 now) is a retry of the same event
    const posts = receiver.requests.slice(before).filter((r) => r.method === "POST");
    expect(posts.map((r) => r.status)).toEqual([503, 503, 200, 204, 404]);
    const ids = posts.map((r) => r.headers["x-jit-delivery"]);
    const [grantId, , , revokeId] = ids;
    expect(typeof grantId).toBe("string");
    expect(ids).toEqual([grantId, grantId, grantId, revokeId, revokeId]);
    expect(revokeId).not.toBe(grantId);
    // Another grant gets other ids.
    await provider.grant(grantContext());
    expect(receiver.requests.at(-1)?.headers["x-jit-delivery"]).not.toBe(grantId);
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

/** A receiver URL whose path and query are secrets, as many integrations hand them out. */
const PATH_TOKEN = "pathT0K3N4242xyz";
const QUERY_TOKEN = "queryT0K3N9999abc";
const TOKEN_PATH = `/hooks/${PATH_TOKEN}?key=${QUERY_TOKEN}`;

describe("webhook URL secrecy: only the host is ever shown", () => {
  let receiver: WebhookReceiver;
  let provider: WebhookProvider;
  let host: string;

  beforeAll(async () => {
    receiver = await startWebhookReceiver({ secret: SECRET, path: TOKEN_PATH });
    provider = new WebhookProvider(
      WebhookSettings.parse({ url: receiver.url, secret: SECRET, timeout: "300ms" }),
    );
    host = new URL(receiver.url).origin;
  });

  afterAll(async () => {
    await receiver?.close();
  });

  function expectHostOnly(text: string): void {
    expect(text).not.toContain(PATH_TOKEN);
    expect(text).not.toContain(QUERY_TOKEN);
    expect(text).not.toContain(SECRET);
    expect(text).toContain(host);
  }

  it("the grant's details name the host only", async () => {
    receiver.setMode("ok");
    const result = await provider.grant(grantContext());
    expect(result.details).toStrictEqual({ endpoint: host });
  });

  it("a 500 whose page quotes the request line", async () => {
    receiver.setMode("status", 500);
    const error = await failureOf(provider.grant(grantContext()));
    expect(error.message).toContain("HTTP 500");
    expect(error.message).toContain("cannot POST");
    expectHostOnly(error.message);
  });

  it("a redirect", async () => {
    receiver.setMode("status", 302);
    expectHostOnly((await failureOf(provider.revoke(grantContext()))).message);
  });

  // Before the timeout case: a probe aborted there may leave a pooled socket that fails differently.
  it("connection refused", async () => {
    await receiver.pause();
    try {
      const error = await failureOf(provider.grant(grantContext()));
      expect(error.message).toMatch(/ECONNREFUSED/);
      expectHostOnly(error.message);
      expectHostOnly((await failureOf(provider.check())).message);
    } finally {
      await receiver.resume();
    }
  });

  it("no answer within the timeout", async () => {
    receiver.setMode("timeout");
    const error = await failureOf(provider.grant(grantContext()));
    expect(error.message).toContain("no answer within 300 ms");
    expectHostOnly(error.message);
    expectHostOnly((await failureOf(provider.check())).message);
  });

  it("safeErrorMessage cuts any URL in a message to its scheme and host, whoever wrote it", () => {
    expect(safeErrorMessage(new Error(`fetch failed: ${receiver.url}: boom`))).toBe(
      `fetch failed: ${host}: boom`,
    );
    expect(
      safeErrorMessage(new Error("connect to postgresql://admin:pw@db:5432/app?sslmode=require failed")),
    ).toBe("connect to postgresql://db:5432 failed");
    expect(
      safeErrorMessage(new Error("webhook grant of grant G-1 to https://h.example:8443 failed: HTTP 500")),
    ).toBe("webhook grant of grant G-1 to https://h.example:8443 failed: HTTP 500");
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
      expect(WebhookSettings.safeParse({ url: "https://h/x", secret: "x".repeat(16), timeout }).success).toBe(
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

  it("accepts https:// anywhere and plain http:// only to loopback addresses", () => {
    const ok = { secret: "x".repeat(16) };
    for (const url of [
      "https://hooks.example.com/jit",
      "https://10.0.0.5:8443/x?token=abc",
      "http://127.0.0.1:9/hook",
      "http://127.8.9.10/hook",
      "http://localhost:8080/hook",
      "http://[::1]:9/hook",
    ]) {
      expect(WebhookSettings.safeParse({ ...ok, url }).success, url).toBe(true);
    }
    for (const url of [
      "http://hooks.example.com/jit",
      "http://10.0.0.5/hook",
      "http://0.0.0.0/hook",
      "http://128.0.0.1/hook",
      "http://localhost.example.com/hook",
      "http://[::2]/hook",
      "https://user:pw@hooks.example.com/jit",
      "ftp://hooks.example.com/jit",
    ]) {
      expect(WebhookSettings.safeParse({ ...ok, url }).success, url).toBe(false);
    }
  });

  it("a policy with a plain http:// URL to another host is refused, naming the key path and not the URL", () => {
    const policy = `
resources:
  - id: deploy-hook
    name: Deploy hook
    provider: webhook
    settings: { url: "http://hooks.example.com/hooks/${PATH_TOKEN}?key=${QUERY_TOKEN}", secret: "0123456789abcdef" }
    maxDuration: 1h
    approvers: { users: [U0LEAD1] }
`;
    const error = (() => {
      try {
        parsePolicy(policy, {});
      } catch (e) {
        return e;
      }
      throw new Error("the policy was accepted");
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      "resources[0].settings.url: must be an https:// URL (plain http:// only for loopback: 127.0.0.0/8, ::1, localhost), without a user name or password",
    ]);
    expect((error as ConfigError).message).not.toContain(PATH_TOKEN);
    expect((error as ConfigError).message).not.toContain(QUERY_TOKEN);
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
