import { z } from "zod";
import { parseDuration } from "./duration.js";
import { isAllowedWebhookUrl, WEBHOOK_URL_RULE } from "./url.js";

/** Longest timeout accepted: the job layer owns retries, a single call must not hang for ages. */
export const MAX_WEBHOOK_TIMEOUT_MS = 5 * 60_000;

/**
 * Settings of a `webhook` resource: where to POST (https://, or http:// to a loopback address), the
 * shared HMAC secret the receiver verifies (at least 16 characters), and how long one call may take
 * (one number and unit: `"500ms"`, `"10s"`, `"1.5m"`; above 0, at most 5m; default 10s).
 */
export const WebhookSettings = z
  .object({
    // The rule's message never quotes the URL: its path or query may hold the receiver's token.
    url: z.string({ error: WEBHOOK_URL_RULE }).refine(isAllowedWebhookUrl, WEBHOOK_URL_RULE),
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
