import { ProviderHolds } from "../../src/providers/holds.js";
import { ensureDatabase, migrate } from "../../src/store/migrator.js";
import { dropDatabase, testDatabaseUrl } from "./harness.js";

/** A fresh, migrated database for reference counts, with jit's own `ProviderHolds` over it. */
export interface HoldsDb {
  url: string;
  holds: ProviderHolds;
  /** Another process's view of the same counts (its own pool), as a second replica would have. */
  replica(): ProviderHolds;
  close(): Promise<void>;
}

export async function startHoldsDb(label: string): Promise<HoldsDb> {
  const url = testDatabaseUrl(label);
  await ensureDatabase(url);
  await migrate(url);
  const opened: ProviderHolds[] = [];
  const open = () => {
    const holds = new ProviderHolds(url, 4);
    opened.push(holds);
    return holds;
  };
  return {
    url,
    holds: open(),
    replica: open,
    async close() {
      await Promise.all(opened.map((h) => h.close()));
      await dropDatabase(url);
    },
  };
}
