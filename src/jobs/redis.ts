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
