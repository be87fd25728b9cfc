/**
 * The bench's webhook receiver, in its own process: verifies `X-JIT-Signature` (HMAC-SHA256 of
 * "<timestamp>.<raw body>") and the timestamp's freshness like a careful integrator, answers at
 * once, and reports every verified event to the bench over IPC with its arrival time (epoch ms,
 * `performance.timeOrigin + performance.now()`, taken when the request's headers arrive).
 *
 * Env: BENCH_WEBHOOK_SECRET.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { reportFatal, serveParent } from "./lib/child.js";

const secret = process.env.BENCH_WEBHOOK_SECRET ?? "";
const now = () => performance.timeOrigin + performance.now();

function verified(timestamp: unknown, signature: unknown, raw: string): boolean {
  if (typeof timestamp !== "string" || typeof signature !== "string") return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = Buffer.from(
    `v1=${createHmac("sha256", secret).update(`${timestamp}.${raw}`).digest("hex")}`,
  );
  const actual = Buffer.from(signature);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

let rejected = 0;
const server = createServer((req, res) => {
  const at = now();
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const raw = Buffer.concat(chunks).toString("utf8");
    if (
      req.method !== "POST" ||
      !verified(req.headers["x-jit-timestamp"], req.headers["x-jit-signature"], raw)
    ) {
      rejected += 1;
      res.writeHead(401).end("bad signature");
      process.send?.({ type: "rejected", count: rejected });
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      rejected += 1;
      res.writeHead(400).end("bad json");
      return;
    }
    res.writeHead(body.event === "revoke" ? 204 : 200).end();
    process.send?.({
      type: "webhook",
      event: body.event,
      requestId: body.requestId,
      grantId: body.grantId,
      expiresAt: Date.parse(String(body.expiresAt)),
      at,
    });
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  serveParent(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  process.send?.({ type: "ready", url: `http://127.0.0.1:${port}/hooks/jit` });
});
server.on("error", (error) => reportFatal("receiver", error));
