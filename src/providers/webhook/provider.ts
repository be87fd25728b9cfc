import type { AccessProvider, GrantContext, GrantResult } from "../types.js";
import { ProviderError } from "../types.js";
import { parseDuration } from "./duration.js";
import type { WebhookSettings } from "./settings.js";
import { signWebhook } from "./signature.js";

/** The JSON body POSTed to the receiver. Absent `email`/`name` are sent as `null`, never omitted. */
export interface WebhookEvent {
  event: "grant" | "revoke";
  grantId: string;
  requestId: string;
  resource: string;
  requester: { slackId: string; email: string | null; name: string | null };
  expiresAt: string;
  reason: string;
}

/** Builds the event body with a fixed key order, so the signed bytes are predictable. */
export function webhookEvent(event: WebhookEvent["event"], ctx: GrantContext): WebhookEvent {
  return {
    event,
    grantId: ctx.grantId,
    requestId: ctx.requestId,
    resource: ctx.resource,
    requester: {
      slackId: ctx.requester.slackId,
      email: ctx.requester.email ?? null,
      name: ctx.requester.name ?? null,
    },
    expiresAt: ctx.expiresAt.toISOString(),
    reason: ctx.reason,
  };
}

const BODY_SNIPPET = 200;

/**
 * Delegates access to an HTTP receiver: one signed `POST` per grant or revoke, no retries here (the
 * job layer retries with backoff). 2xx is success; timeouts, network errors, 408, 429 and 5xx are
 * transient; other 4xx are permanent — except 404 on revoke, which means the receiver does not know
 * the grant, and not-found counts as revoked.
 */
export class WebhookProvider implements AccessProvider {
  readonly #url: string;
  readonly #secret: string;
  readonly #timeoutMs: number;
  /** Origin + path only: query strings may carry tokens and must not reach messages or the DM. */
  readonly endpoint: string;

  constructor(settings: WebhookSettings) {
    const parsed = new URL(settings.url);
    this.#url = settings.url;
    this.#secret = settings.secret;
    this.#timeoutMs = parseDuration(settings.timeout ?? "10s") ?? 10_000;
    this.endpoint = `${parsed.origin}${parsed.pathname}`;
  }

  async grant(ctx: GrantContext): Promise<GrantResult> {
    await this.#post("grant", ctx);
    return { details: { endpoint: this.endpoint } };
  }

  async revoke(ctx: GrantContext): Promise<void> {
    await this.#post("revoke", ctx);
  }

  /**
   * Reachability only: an unsigned `HEAD` (safe by HTTP semantics, so no receiver acts on it).
   * Any answer below 500 — including 401, 404 or 405 — proves something is listening; network
   * errors, timeouts, 408, 429 and 5xx fail transiently.
   */
  async check(): Promise<void> {
    const what = `webhook check of ${this.endpoint}`;
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: "HEAD",
        redirect: "manual",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new ProviderError(`${what} failed: ${this.#describe(error)}`, true);
    }
    await response.body?.cancel().catch(() => undefined);
    const status = response.status;
    if (status === 408 || status === 429 || status >= 500) {
      throw new ProviderError(`${what} failed: HTTP ${status}`, true);
    }
  }

  async close(): Promise<void> {}

  async #post(event: WebhookEvent["event"], ctx: GrantContext): Promise<void> {
    const body = JSON.stringify(webhookEvent(event, ctx));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const what = `webhook ${event} of grant ${ctx.grantId} to ${this.endpoint}`;
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "X-JIT-Timestamp": timestamp,
          "X-JIT-Signature": signWebhook(this.#secret, timestamp, body),
        },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new ProviderError(`${what} failed: ${this.#describe(error)}`, true);
    }
    const status = response.status;
    if (status >= 200 && status < 300) {
      await response.body?.cancel().catch(() => undefined);
      return;
    }
    const snippet = await this.#snippet(response);
    if (event === "revoke" && status === 404) return;
    const transient = status === 408 || status === 429 || status >= 500;
    throw new ProviderError(`${what} failed: HTTP ${status}${snippet ? `: ${snippet}` : ""}`, transient);
  }

  async #snippet(response: Response): Promise<string> {
    try {
      const text = (await response.text()).slice(0, BODY_SNIPPET).replace(/\s+/g, " ").trim();
      return this.#redact(text);
    } catch {
      return "";
    }
  }

  #describe(error: unknown): string {
    if (error instanceof Error && error.name === "TimeoutError") {
      return `no answer within ${this.#timeoutMs} ms`;
    }
    const parts: string[] = [];
    let current: unknown = error;
    for (let depth = 0; current instanceof Error && depth < 4; depth++) {
      const code = (current as { code?: unknown }).code;
      parts.push(typeof code === "string" ? `${current.message} (${code})` : current.message);
      current = current.cause;
    }
    return this.#redact(parts.join(": ") || String(error));
  }

  #redact(text: string): string {
    return text.split(this.#secret).join("[redacted]");
  }
}
