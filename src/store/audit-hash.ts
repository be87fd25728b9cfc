import { createHash, createHmac } from "node:crypto";

/** How an event's hash was made: plain SHA-256 (anyone can recompute it) or keyed HMAC-SHA256. */
export type AuditScheme = "sha256" | "hmac-sha256";
export const AUDIT_SCHEMES: readonly string[] = ["sha256", "hmac-sha256"] satisfies AuditScheme[];

export const GENESIS_HASH = "0".repeat(64);

/** JSON with sorted keys, so PostgreSQL's jsonb key reordering cannot change a hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The part of an event its hash covers, besides the previous hash and the sequence number. */
function eventBody(event: Omit<HashedPart, "seq">): string {
  return canonicalJson([
    event.at.toISOString(),
    event.actor,
    event.action,
    event.requestId,
    event.resourceId,
    event.details,
  ]);
}

/** What an event's hash covers besides the previous hash. */
export interface HashedPart {
  seq: bigint;
  at: Date;
  actor: string;
  action: string;
  requestId: string | null;
  resourceId: string | null;
  details: unknown;
}

/**
 * Unkeyed: sha256(prevHash + "\n" + seq + "\n" + body), the format of every event written before
 * keys existed. Keyed: HMAC-SHA256(key, "hmac-sha256\n" + the same), the scheme's name included so a
 * keyed hash can never pass as another scheme's.
 */
export function hashEvent(prevHash: string, event: HashedPart, key?: string): string {
  const message = `${prevHash}\n${event.seq.toString()}\n${eventBody(event)}`;
  if (key === undefined) return createHash("sha256").update(message).digest("hex");
  return createHmac("sha256", key).update(`hmac-sha256\n${message}`).digest("hex");
}
