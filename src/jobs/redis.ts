import { Redis } from "ioredis";

/**
 * BullMQ connections. Workers block on Redis and must retry forever (maxRetriesPerRequest: null);
 * producers in the web role fail fast instead, so a Slack user gets an error rather than a hang.
 */
export function createRedis(
  url: string,
  role: "worker" | "producer",
  onError: (error: Error) => void = () => undefined,
): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: role === "worker" ? null : 2,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  // ioredis reconnects by itself; without a listener it would print every failed attempt to stderr.
  redis.on("error", onError);
  return redis;
}

/**
 * BullMQ loses jobs silently when Redis evicts keys under memory pressure. Returns a warning to log
 * when `maxmemory-policy` is anything but `noeviction`, or null. Managed Redis may forbid CONFIG:
 * then we cannot tell, and say so.
 */
export async function evictionWarning(redis: Redis): Promise<string | null> {
  let policy: string | undefined;
  try {
    const answer = (await redis.config("GET", "maxmemory-policy")) as string[];
    policy = answer[1];
  } catch (error) {
    return `cannot read Redis maxmemory-policy (${(error as Error).message}); make sure it is noeviction`;
  }
  if (policy === "noeviction") return null;
  return (
    `Redis maxmemory-policy is "${policy}": under memory pressure Redis may evict BullMQ's keys and lose ` +
    "scheduled revocations until the reconciler notices. Set maxmemory-policy to noeviction."
  );
}
