import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

/**
 * A short-lived Redis lock for work that must not overlap but is harmless to delay (card updates).
 * Returns null when someone else holds it. The lease bounds how long a crashed holder blocks others.
 * Not for grants and revocations: those use a PostgreSQL lock, which dies with its holder at once.
 */
export async function tryWithMutex<T>(
  redis: Redis,
  key: string,
  leaseMs: number,
  work: () => Promise<T>,
): Promise<{ ran: true; value: T } | { ran: false }> {
  const token = randomUUID();
  const acquired = await redis.set(key, token, "PX", leaseMs, "NX");
  if (acquired !== "OK") return { ran: false };
  try {
    return { ran: true, value: await work() };
  } finally {
    await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
  }
}
