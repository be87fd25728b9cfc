import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness.js";
import { fileRequest } from "../support/lifecycle.js";
import { policyWith } from "../support/policies.js";
import { waitFor } from "../support/wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

let h: Harness;
let receiver: WebhookReceiver;
const GRANTS = 36;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret: "webhook-secret-0123456789" });
  h = await startHarness({ label: "lag", policy: policyWith({ url: receiver.url }) });
});
afterAll(async () => {
  await h?.stop();
  await receiver?.close();
});

/**
 * A few dozen grants expiring together are all revoked, and the lag (provider confirmed − expiry)
 * is printed. The target (≤ 2 s) is reported, not asserted: this machine is small and shared.
 */
it(`revokes ${GRANTS} grants that expire together, and reports the lag`, async () => {
  const ids = await Promise.all(
    Array.from({ length: GRANTS }, (_, i) => fileRequest(h, `U0USER${i}`, `deploy-hook 4s lag test ${i}`)),
  );
  await Promise.all(ids.map((id) => h.click("U0LEAD1", "jit_approve", id)));
  const ended = await waitFor(
    async () => {
      const grants = await h.db.grant.findMany({ where: { requestId: { in: ids } } });
      return grants.length === GRANTS && grants.every((g) => g.endedAt) ? grants : undefined;
    },
    { timeout: 60_000, interval: 200 },
  );
  const lags = ended
    .map((g) => (g.endedAt as Date).getTime() - (g.expiresAt as Date).getTime())
    .sort((a, b) => a - b);
  const pick = (q: number) => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] as number;
  const expiries = ended.map((g) => (g.expiresAt as Date).getTime());
  console.log(
    `revocation lag over ${GRANTS} grants (expiries spread over ${Math.max(...expiries) - Math.min(...expiries)} ms): ` +
      `p50 ${pick(0.5)} ms, p95 ${pick(0.95)} ms, max ${lags.at(-1)} ms`,
  );
  expect(lags[0]).toBeGreaterThanOrEqual(0); // never revoked before its expiry
  expect(
    receiver.events.filter((e) => e.event === "revoke" && ids.includes(String(e.body.requestId))),
  ).toHaveLength(GRANTS);
  const statuses = await h.db.accessRequest.groupBy({
    by: ["status"],
    where: { id: { in: ids } },
    _count: true,
  });
  expect(statuses).toEqual([{ status: "EXPIRED", _count: GRANTS }]);
});
