import type { AccessProvider, ExtendContext, GrantContext, GrantResult } from "../types.js";
import { ProviderError } from "../types.js";
import { parseDuration } from "./duration.js";
import type { WebhookSettings } from "./settings.js";
import { signWebhook } from "./signature.js";
import { urlScrubber, webhookHost } from "./url.js";

/** The JSON body POSTed to the receiver. Absent `email`/`name` are sent as `null`, never omitted. */
export interface WebhookEvent {
  event: "grant" | "revoke" | "extend";
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
 * The `X-JIT-Delivery` id of one event: the same on every retry, from any worker, even after a
 * crash (it is derived, never stored), so a receiver can drop duplicates; grant and revoke of one
 * grant differ, and so does each extension (`<grantId>:extend:<n>`). Not secret: the body carries
 * the same grant id.
 */
export function deliveryId(event: WebhookEvent["event"], grantId: string, extension?: number): string {
  return event === "extend" ? `${grantId}:extend:${extension ?? 1}` : `${grantId}:${event}`;
}

/**
 * Delegates access to an HTTP receiver: one signed `POST` per grant or revoke, no retries here (the
 * job layer retries with backoff). Only 2xx is success, and every other answer (3xx included:
 * redirects are not followed), timeout or network error is transient, as the contract says — except
 * 404 on revoke, which means the receiver does not know the grant, and not-found counts as revoked.
 * Only the URL's host is ever shown: its path and query are scrubbed from every message.
 */
export class WebhookProvider implements AccessProvider {
  readonly #url: string;
  readonly #secret: string;
  readonly #timeoutMs: number;
  readonly #scrubUrl: (text: string) => string;
  /** `https://host[:port]`: the one part of the URL that may reach messages, logs or the DM. */
  readonly endpoint: string;

  constructor(settings: WebhookSettings) {
    this.#url = settings.url;
    this.#secret = settings.secret;
    this.#timeoutMs = parseDuration(settings.timeout ?? "10s") ?? 10_000;
    this.#scrubUrl = urlScrubber(settings.url);
    this.endpoint = webhookHost(settings.url);
  }

  async grant(ctx: GrantContext): Promise<GrantResult> {
    await this.#post("grant", ctx);
    return { details: { endpoint: this.endpoint } };
  }

  async revoke(ctx: GrantContext): Promise<void> {
    await this.#post("revoke", ctx);
  }

  /** The `extend` event: the same body with the new `expiresAt`. */
  async extend(ctx: ExtendContext): Promise<void> {
    await this.#post("extend", ctx, ctx.extension);
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

  async #post(event: WebhookEvent["event"], ctx: GrantContext, extension?: number): Promise<void> {
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
          "X-JIT-Delivery": deliveryId(event, ctx.grantId, extension),
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
    throw new ProviderError(`${what} failed: HTTP ${status}${snippet ? `: ${snippet}` : ""}`, true);
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

  /** The secret and the URL's path and query out of text that came from outside (errors, bodies). */
  #redact(text: string): string {
    return this.#scrubUrl(text.split(this.#secret).join("[redacted]"));
  }
}
