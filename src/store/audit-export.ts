import type { Db } from "./db.js";

const COLUMNS = [
  "seq",
  "at",
  "actor",
  "action",
  "requestId",
  "resourceId",
  "details",
  "prevHash",
  "hash",
] as const;

function csvCell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Streams events since `since` in order, in batches, as JSON lines or CSV with a header row. */
export async function exportAudit(
  db: Db,
  options: { since: Date; format: "json" | "csv"; write: (chunk: string) => void; batchSize?: number },
): Promise<number> {
  const batchSize = options.batchSize ?? 1000;
  if (options.format === "csv") options.write(`${COLUMNS.join(",")}\n`);
  let after = -1n;
  let count = 0;
  for (;;) {
    const batch = await db.auditEvent.findMany({
      where: { at: { gte: options.since }, seq: { gt: after } },
      orderBy: { seq: "asc" },
      take: batchSize,
    });
    for (const event of batch) {
      const row = {
        seq: event.seq.toString(),
        at: event.at.toISOString(),
        actor: event.actor,
        action: event.action,
        requestId: event.requestId,
        resourceId: event.resourceId,
        details: event.details,
        prevHash: event.prevHash,
        hash: event.hash,
      };
      if (options.format === "json") {
        options.write(`${JSON.stringify(row)}\n`);
      } else {
        const cells = COLUMNS.map((column) => {
          const value = row[column];
          return csvCell(typeof value === "string" ? value : value === null ? "" : JSON.stringify(value));
        });
        options.write(`${cells.join(",")}\n`);
      }
      after = event.seq;
      count++;
    }
    if (batch.length < batchSize) return count;
  }
}
