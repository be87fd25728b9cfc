import { z } from "zod";
import { parseDuration } from "./duration.js";

/** Longest timeout accepted: the job layer owns retries, a single call must not hang for ages. */
export const MAX_WEBHOOK_TIMEOUT_MS = 5 * 60_000;

/**
 * Settings of a `webhook` resource: where to POST, the shared HMAC secret the receiver verifies
 * (at least 16 characters), and how long one call may take (`"500ms"`, `"10s"`, `"2m"`; default 10s).
 */
export const WebhookSettings = z
  .object({
    url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }),
    secret: z.string().min(16, "must be at least 16 characters"),
    timeout: z
      .string()
      .refine((text) => {
        const ms = parseDuration(text);
        return ms !== undefined && ms > 0 && ms <= MAX_WEBHOOK_TIMEOUT_MS;
      }, 'must be a duration like "500ms", "10s" or "2m", at most 5m')
      .default("10s"),
  })
  .strict();

export type WebhookSettings = z.infer<typeof WebhookSettings>;
