import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client.js";

export type Db = InstanceType<typeof PrismaClient>;
export type { Prisma } from "../generated/prisma/client.js";

/** One pool per process; PrismaPg owns it and closes it on $disconnect. */
export function createDb(databaseUrl: string, poolSize = 10): Db {
  return new PrismaClient({
    adapter: new PrismaPg({ connectionString: databaseUrl, max: poolSize, idleTimeoutMillis: 30_000 }),
    // Under load, transactions queue for the audit chain's head row; give them room before failing.
    transactionOptions: { maxWait: 15_000, timeout: 30_000 },
  });
}
