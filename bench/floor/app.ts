/**
 * The floor: the least an app can do for the same loads, built from the same parts as jit (Bolt's
 * HTTPReceiver with signature checks, BullMQ on ioredis, PostgreSQL through a `pg` pool), so the
 * bench can report jit's figures as ratios to it.
 *
 * - `/jit request <resource> <duration> <reason…>`: ack; one INSERT; one enqueue (a job that posts
 *   one approval card); the id goes back to the caller through response_url.
 * - Approve click: ack; one job that marks the grant (one UPDATE … RETURNING, which fixes the expiry
 *   at now + duration) and POSTs the signed webhook grant, then adds one delayed job per grant that
 *   POSTs the webhook revoke at the expiry.
 *
 * No policy, no audit, no locks, no card updates, no DMs. Same worker concurrency (20), same pool
 * size (30) and same job retention as jit's defaults.
 *
 * Env: FLOOR_DATABASE_URL, REDIS_URL, FLOOR_PREFIX, SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN,
 * SLACK_API_URL, WEBHOOK_URL, WEBHOOK_SECRET.
 */
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { App, HTTPReceiver, LogLevel } from "@slack/bolt";
import { type Job, Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { reportFatal, serveParent } from "../lib/child.js";

const env = process.env;
const need = (name: string): string => {
  const value = env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

export const FLOOR_QUEUE = "floor";
const CONCURRENCY = 20;

type FloorJob =
  | { kind: "card"; id: string; user: string; text: string }
  | { kind: "grant"; id: string }
  | { kind: "revoke"; body: WebhookBody };

interface WebhookBody {
  event: "grant" | "revoke";
  grantId: string;
  requestId: string;
  resource: string;
  requester: { slackId: string; email: null; name: null };
  expiresAt: string;
  reason: string;
}

const UNITS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 };
function seconds(text: string): number {
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([dhms])/g)) total += Number(n) * (UNITS[unit ?? "s"] ?? 1);
  return total;
}

async function main(): Promise<void> {
  const pool = new pg.Pool({ connectionString: need("FLOOR_DATABASE_URL"), max: CONCURRENCY + 10 });
  await pool.query(`CREATE TABLE IF NOT EXISTS requests (
    id bigserial PRIMARY KEY,
    requester text NOT NULL,
    resource text NOT NULL,
    duration_sec int NOT NULL,
    reason text NOT NULL,
    status text NOT NULL DEFAULT 'PENDING',
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now())`);

  const prefix = need("FLOOR_PREFIX");
  const redisUrl = need("REDIS_URL");
  const producer = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  const queue = new Queue<FloorJob>(FLOOR_QUEUE, {
    connection: producer,
    prefix,
    defaultJobOptions: {
      removeOnComplete: { count: 1_000 },
      removeOnFail: { count: 5_000 },
      attempts: 8,
      backoff: { type: "exponential", delay: 1_000 },
    },
  });

  const receiver = new HTTPReceiver({
    signingSecret: need("SLACK_SIGNING_SECRET"),
    endpoints: "/slack/events",
    processBeforeResponse: false,
  });
  const app = new App({
    token: need("SLACK_BOT_TOKEN"),
    botId: "B0JITBOT",
    botUserId: "U0JITBOT",
    receiver,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: need("SLACK_API_URL") },
  });

  app.command("/jit", async ({ command, ack, respond }) => {
    await ack();
    const [, resource = "", duration = "", ...reason] = (command.text ?? "").trim().split(/\s+/);
    const { rows } = await pool.query<{ id: string }>(
      "INSERT INTO requests (requester, resource, duration_sec, reason) VALUES ($1, $2, $3, $4) RETURNING id",
      [command.user_id, resource, seconds(duration), reason.join(" ")],
    );
    const id = `F-${rows[0]?.id}`;
    const text = `Requested ${resource} for ${duration} as ${id}.`;
    await queue.add("card", { kind: "card", id, user: command.user_id, text });
    await respond({ response_type: "ephemeral", text });
  });

  app.action("jit_approve", async ({ ack, action }) => {
    await ack();
    const id = "value" in action && typeof action.value === "string" ? action.value : "";
    await queue.add("grant", { kind: "grant", id }, { jobId: `grant-${id}` });
  });

  const webhookUrl = need("WEBHOOK_URL");
  const webhookSecret = need("WEBHOOK_SECRET");
  async function post(body: WebhookBody): Promise<void> {
    const raw = JSON.stringify(body);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = `v1=${createHmac("sha256", webhookSecret).update(`${timestamp}.${raw}`).digest("hex")}`;
    const response = await fetch(webhookUrl, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-JIT-Timestamp": timestamp,
        "X-JIT-Signature": signature,
      },
      body: raw,
      signal: AbortSignal.timeout(10_000),
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.status < 200 || response.status >= 300)
      throw new Error(`webhook answered ${response.status}`);
  }

  async function run(job: Job<FloorJob>): Promise<void> {
    const data = job.data;
    if (data.kind === "card") {
      await app.client.chat.postMessage({
        channel: "U0LEAD1",
        text: data.text,
        blocks: [
          { type: "section", text: { type: "mrkdwn", text: data.text } },
          {
            type: "actions",
            block_id: `decide:${data.id}`,
            elements: [
              {
                type: "button",
                action_id: "jit_approve",
                text: { type: "plain_text", text: "Approve" },
                value: data.id,
              },
            ],
          },
        ],
      });
      return;
    }
    if (data.kind === "grant") {
      const { rows } = await pool.query<{
        requester: string;
        resource: string;
        reason: string;
        expires_at: Date;
      }>(
        `UPDATE requests SET status = 'ACTIVE',
           expires_at = date_trunc('milliseconds', clock_timestamp()) + duration_sec * interval '1 second'
         WHERE id = $1 AND status = 'PENDING'
         RETURNING requester, resource, reason, expires_at`,
        [data.id.replace(/^F-/, "")],
      );
      const row = rows[0];
      if (!row) return;
      const body: WebhookBody = {
        event: "grant",
        grantId: data.id.replace(/^F-/, "G-"),
        requestId: data.id,
        resource: row.resource,
        requester: { slackId: row.requester, email: null, name: null },
        expiresAt: row.expires_at.toISOString(),
        reason: row.reason,
      };
      await post(body);
      await queue.add(
        "revoke",
        { kind: "revoke", body: { ...body, event: "revoke" } },
        { jobId: `revoke-${data.id}`, delay: Math.max(0, row.expires_at.getTime() - Date.now()) },
      );
      return;
    }
    await post(data.body);
  }

  const worker = new Worker<FloorJob>(FLOOR_QUEUE, run, {
    connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
    prefix,
    concurrency: CONCURRENCY,
  });
  worker.on("failed", (job, error) => console.error("job failed", job?.name, error.message));

  const server = createServer(receiver.requestListener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serveParent(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await worker.close();
    await queue.close();
    producer.disconnect();
    await pool.end();
  });
  process.send?.({ type: "ready", url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

main().catch((error: unknown) => reportFatal("floor", error));
