/**
 * Issue 14.4: `jit audit verify` on a live database. Verify reads events and head in one snapshot,
 * so appends running meanwhile never look like tampering.
 */
import { describe, expect, it } from "vitest";
import { appendAuditMany, verifyAudit } from "../../src/store/audit.js";
import type { VerifyResult } from "../../src/store/audit-verify.js";
import { append, appendMany, useAuditDb } from "./audit-fixture.js";

const fixture = useAuditDb("audit_snapshot");

describe("verifyAudit under concurrent appends", () => {
  it("never reports BROKEN in 20 runs while two tasks append continuously (single and batch)", async () => {
    const { db } = fixture;
    await appendMany(db, 40);
    let stop = false;
    let appended = 0;
    const singles = (async () => {
      for (let i = 0; !stop; i++) {
        await append(db, { actor: "U0LIVE", action: "live.single", details: { i } });
        appended++;
      }
    })();
    const batches = (async () => {
      for (let i = 0; !stop; i++) {
        await db.$transaction((tx) =>
          appendAuditMany(tx, [
            { actor: "jit", action: "live.batch", details: { i, n: 1 } },
            { actor: "jit", action: "live.batch", details: { i, n: 2 } },
          ]),
        );
        appended += 2;
      }
    })();
    const results: VerifyResult[] = [];
    try {
      for (let run = 0; run < 20; run++) {
        // Small batches: many reads per run, so appends land between them.
        results.push(await verifyAudit(db, { batchSize: 7 }));
      }
    } finally {
      stop = true;
      await Promise.all([singles, batches]);
    }
    const broken = results.filter((r) => !r.ok);
    console.log(
      `verify under appends: ${results.length} runs, ${broken.length} BROKEN, ${appended} events appended meanwhile`,
    );
    expect(broken).toEqual([]);
    // The appends really ran during the runs: later runs saw more events.
    const seen = results.map((r) => r.events);
    expect(appended).toBeGreaterThan(20);
    expect(seen.at(-1)).toBeGreaterThan(seen[0] ?? 0);
    expect(await verifyAudit(db)).toMatchObject({ ok: true, events: 40 + appended });
  }, 120_000);
});
