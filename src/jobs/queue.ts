import { Queue } from "bullmq";
import type { Redis } from "ioredis";

/** Everything jit schedules lives in one queue; job names say what to do. */
export const QUEUE_NAME = "lifecycle";

export function createQueue(connection: Redis, prefix: string): Queue {
  return new Queue(QUEUE_NAME, {
    connection,
    prefix,
    defaultJobOptions: {
      removeOnComplete: { count: 1_000 },
      removeOnFail: { count: 5_000 },
    },
  });
}
