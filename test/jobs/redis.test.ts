import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { evictionWarning } from "../../src/jobs/redis.js";
import { type PrivateRedis, startPrivateRedis } from "../support/private-redis.js";

const servers: PrivateRedis[] = [];
afterAll(() => Promise.all(servers.map((s) => s.stop())));

/** A throwaway redis-server with the given eviction policy (never touch the shared one's config). */
async function redisWithPolicy(policy: string): Promise<Redis> {
  const server = await startPrivateRedis(["--maxmemory-policy", policy]);
  servers.push(server);
  return new Redis(server.url);
}

describe("Redis eviction check", () => {
  it("is quiet when Redis never evicts", async () => {
    const redis = await redisWithPolicy("noeviction");
    expect(await evictionWarning(redis)).toBeNull();
    redis.disconnect();
  });

  it("warns loudly, naming the policy, when Redis may evict BullMQ's keys", async () => {
    const redis = await redisWithPolicy("allkeys-lru");
    expect(await evictionWarning(redis)).toContain('maxmemory-policy is "allkeys-lru"');
    redis.disconnect();
  });
});
