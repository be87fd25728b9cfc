import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { evictionWarning } from "../../src/jobs/redis.js";
import { waitFor } from "../support/wait.js";

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** A throwaway redis-server with the given eviction policy (never touch the shared one's config). */
async function redisWithPolicy(policy: string): Promise<Redis> {
  const port = await freePort();
  const child = spawn("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--maxmemory-policy",
    policy,
  ]);
  children.push(child);
  const redis = new Redis(port, "127.0.0.1", { lazyConnect: true, retryStrategy: () => 100 });
  redis.on("error", () => undefined); // refused until the server is up
  await waitFor(() => redis.connect().then(() => true), { timeout: 5_000 });
  return redis;
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
