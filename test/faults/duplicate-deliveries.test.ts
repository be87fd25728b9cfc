/**
 * Fault test 6: Slack delivers the same request twice: the very same signed body again, marked
 * `X-Slack-Retry-Num: 1` (as Slack does when it thinks the first delivery timed out), one after the
 * other or overlapping. A slash command files one request; a click counts as one vote; one grant.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIGNING_SECRET } from "../support/harness.js";
import { blockActionBody, signedDelivery, slashCommandBody, triggerId } from "../support/slack-requests.js";
import { waitFor } from "../support/wait.js";
import { auditActions, type Rig, startRig } from "./rig.js";

let rig: Rig;

beforeAll(async () => {
  rig = await startRig({ label: "dupes" });
  await rig.spawn("all");
}, 60_000);
afterAll(async () => {
  await rig?.stop();
});

/**
 * Sends `body` once, then again as Slack's retry: the very same bytes (body, timestamp and
 * signature), marked `X-Slack-Retry-Num: 1`; `overlap` sends both at once.
 */
async function deliverTwice(body: string, overlap: boolean) {
  const delivery = signedDelivery(body, SIGNING_SECRET);
  const first = () => delivery.send(rig.webUrl());
  const retry = () => delivery.send(rig.webUrl(), { num: 1, reason: "http_timeout" });
  if (overlap) return Promise.all([first(), retry()]);
  const a = await first();
  return [a, await retry()];
}

/** Redelivered request commands jit recognised (it logs each one and answers only the first). */
const duplicatesLogged = () =>
  rig.processes
    .flatMap((p) => p.logs())
    .filter((l) => String(l.msg).startsWith("duplicate delivery of a command")).length;

let n = 0;
function slashBody(userId: string, text: string) {
  const responseUrl = rig.standin.responseUrl(`dupe-cmd-${++n}`);
  return { responseUrl, body: slashCommandBody({ text, userId, responseUrl, triggerId: triggerId() }) };
}
function clickBody(userId: string, requestId: string) {
  const responseUrl = rig.standin.responseUrl(`dupe-click-${++n}`);
  const body = blockActionBody({
    userId,
    actionId: "jit_approve",
    value: requestId,
    blockId: `decide:${requestId}`,
    responseUrl,
    actionTs: `${Math.floor(Date.now() / 1000)}.${String(++n).padStart(6, "0")}`,
    triggerId: triggerId(),
  });
  return { responseUrl, body };
}

describe.each([
  ["one after the other", false],
  ["overlapping", true],
])("the same delivery twice, %s", (_label, overlap) => {
  it("a slash command files one request", async () => {
    const user = overlap ? "U0DUPE2" : "U0DUPE1";
    const before = await rig.db.accessRequest.count({ where: { requesterId: user } });
    const duplicatesBefore = duplicatesLogged();
    const { body, responseUrl } = slashBody(user, "request deploy-hook 1h delivered twice");
    const answers = await deliverTwice(body, overlap);
    for (const a of answers) expect(a.status).toBe(200);
    await rig.reply(responseUrl);
    // Both deliveries handled: the second was recognised (and logged), or answered on its own.
    await waitFor(
      () => duplicatesLogged() > duplicatesBefore || rig.standin.responsesTo(responseUrl).length > 1,
      { timeout: 10_000 },
    );
    const filed = await rig.db.accessRequest.findMany({ where: { requesterId: user } });
    // Soft, so the clean-up and the invariants below still run if a second request was filed.
    expect.soft(filed.length - before, "requests filed for one command delivered twice").toBe(1);
    // Whatever the outcome, every filed request is cancelled (and so accounted for) at the end.
    for (const r of filed) await rig.command(user, `cancel ${r.id}`);
    await rig.assertInvariants(Object.fromEntries(filed.map((r) => [r.id, ["CANCELLED"]])));
  }, 40_000);

  it("a click counts as one vote and approval makes one grant", async () => {
    const id = await rig.fileRequest(
      "U0ALICE",
      `two-keys 3s double clicks ${overlap ? "overlapping" : "serial"}`,
    );
    await waitFor(() => rig.cardsOf(id).length === 3, { timeout: 10_000 });

    const lead1 = clickBody("U0LEAD1", id);
    for (const a of await deliverTwice(lead1.body, overlap)) expect(a.status).toBe(200);
    // Each delivery is answered once its vote is settled: both answers, then the count is final.
    const replies = await waitFor(() => {
      const texts = rig.standin
        .responsesTo(lead1.responseUrl)
        .map((r) => String((r.body as { text?: string }).text));
      return texts.length === 2 ? texts : undefined;
    });
    expect(replies.sort()).toEqual([
      `You already voted on ${id}; your vote counts once.`,
      `You approved ${id}. It needs more approvals.`,
    ]);
    expect(await rig.db.decision.count({ where: { requestId: id } })).toBe(1);
    expect((await rig.db.accessRequest.findUniqueOrThrow({ where: { id } })).status).toBe("PENDING");

    const lead2 = clickBody("U0LEAD2", id);
    for (const a of await deliverTwice(lead2.body, overlap)) expect(a.status).toBe(200);
    await rig.assertInvariants({ [id]: ["EXPIRED"] }, 30_000);
    expect(await rig.db.decision.count({ where: { requestId: id } })).toBe(2);
    expect(await rig.db.grant.count({ where: { requestId: id } })).toBe(1);
    expect(rig.eventsFor(id, "grant")).toHaveLength(1);
    expect(rig.eventsFor(id, "revoke")).toHaveLength(1);
    const actions = await auditActions(rig.db, id);
    expect(actions.filter((a) => a === "decision.approve")).toHaveLength(2);
    expect(actions.filter((a) => a === "request.approved")).toHaveLength(1);
    expect(actions.filter((a) => a === "request.active")).toHaveLength(1);
  }, 40_000);
});
