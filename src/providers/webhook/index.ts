export { parseDuration } from "./duration.js";
export type { WebhookEvent } from "./provider.js";
export { WebhookProvider, webhookEvent } from "./provider.js";
export { MAX_WEBHOOK_TIMEOUT_MS, WebhookSettings } from "./settings.js";
export { signWebhook, verifyWebhookSignature } from "./signature.js";
