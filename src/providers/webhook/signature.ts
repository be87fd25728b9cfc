import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * The `X-JIT-Signature` value for a request: `v1=` + hex HMAC-SHA256 of `"<timestamp>.<raw body>"`.
 * Signing the timestamp with the body lets receivers reject replays of old requests.
 */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** Constant-time check of a received signature header; for receivers (and our tests). */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string,
  body: string,
  header: string | undefined,
): boolean {
  if (!header) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const actual = Buffer.from(header);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
