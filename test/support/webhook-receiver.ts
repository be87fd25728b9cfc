import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the receiver accepted: signature and timestamp verified, JSON parsed. */
export interface ReceivedWebhook {
  event: "grant" | "revoke" | "extend";
  body: Record<string, unknown>;
  raw: string;
  headers: IncomingHttpHeaders;
}

/** A request the receiver refused with 401, and why. */
export interface RejectedWebhook {
  reason: "missing-headers" | "bad-signature" | "stale-timestamp" | "bad-json";
  raw: string;
  headers: IncomingHttpHeaders;
}

/** Any request that reached the server, whatever it was answered. */
export interface ReceivedRequest {
  method: string;
  /** Path and query, as requested. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The status it was answered with (undefined: never answered). */
  status?: number;
}

/**
 * How the receiver answers: `ok` behaves like a real stateful receiver; `down` answers 503;
 * `timeout` never answers; `reject` answers 400; `status` answers `status` with a body that quotes
 * the request line, as many frameworks' error pages do ("Cannot POST /hooks/…").
 */
export type ReceiverMode = "ok" | "down" | "timeout" | "reject" | "status";

export interface WebhookReceiver {
  /** URL to put in the webhook settings (has a path and a query string). */
  url: string;
  /** Every request that reached the server, answered or not, in arrival order. */
  requests: ReceivedRequest[];
  /** Verified events, in arrival order (only those answered 2xx/404 in `ok` mode). */
  events: ReceivedWebhook[];
  /** Requests refused for a bad signature or timestamp. */
  rejected: RejectedWebhook[];
  /** Every request that reached the server, whatever the mode. */
  hits: number;
  /** Non-POST requests (reachability probes), answered 405 in `ok` mode. */
  probes: number;
  /** Grant ids the receiver currently considers granted (grant adds, revoke removes). */
  active: Set<string>;
  setDown(down: boolean): void;
  setMode(mode: ReceiverMode, status?: number): void;
  /**
   * The next `count` requests are answered `status` (a 3xx with a `Location` on this receiver),
   * then the mode in force answers again: a receiver that fails a few times, then recovers.
   */
  failNext(count: number, status: number): void;
  /** Stops listening (callers get "connection refused") until {@link resume}; same port after. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

const MAX_SKEW_SECONDS = 300;

/** Independent implementation of the documented signature scheme (not our provider's code). */
function signatureMatches(secret: string, timestamp: string, raw: string, header: string): boolean {
  const expected = Buffer.from(
    `v1=${createHmac("sha256", secret).update(`${timestamp}.${raw}`).digest("hex")}`,
  );
  const actual = Buffer.from(header);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * A local HTTP receiver that checks `X-JIT-Signature`/`X-JIT-Timestamp` like a careful integrator
 * would, tracks which grants are active (revoke of an unknown grant answers 404), and can be told to
 * fail in the ways a real endpoint does, so webhook tests exercise real HTTP end to end.
 */
export async function startWebhookReceiver({
  secret,
  path = "/hooks/jit?team=test",
}: {
  secret: string;
  /** Path and query of {@link WebhookReceiver.url}. */
  path?: string;
}): Promise<WebhookReceiver> {
  let mode: ReceiverMode = "ok";
  let fixedStatus = 500;
  let failures: { count: number; status: number } = { count: 0, status: 500 };
  const receiver: WebhookReceiver = {
    url: "",
    close: async () => undefined,
    pause: async () => undefined,
    resume: async () => undefined,
    requests: [],
    events: [],
    rejected: [],
    hits: 0,
    probes: 0,
    active: new Set(),
    setDown(down) {
      mode = down ? "down" : "ok";
    },
    setMode(next, status) {
      mode = next;
      if (status !== undefined) fixedStatus = status;
    },
    failNext(count, status) {
      failures = { count, status };
    },
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      receiver.hits += 1;
      const raw = Buffer.concat(chunks).toString("utf8");
      const headers = req.headers;
      const request: ReceivedRequest = { method: req.method ?? "", url: req.url ?? "", headers };
      receiver.requests.push(request);
      const reply = (status: number, text = "") => {
        request.status = status;
        const location = status >= 300 && status < 400 ? { location: "/elsewhere" } : {};
        // No keep-alive: a paused receiver must refuse connections, not leave pooled sockets behind.
        res.writeHead(status, { "content-type": "text/plain", connection: "close", ...location });
        res.end(text);
      };
      const quoted = `${req.method} ${req.url}`;
      if (failures.count > 0 && req.method === "POST") {
        failures.count -= 1;
        return reply(failures.status, `status ${failures.status}: cannot ${quoted}`);
      }
      if (mode === "timeout") return; // never answer
      if (mode === "down") return reply(503, "service unavailable");
      if (mode === "reject") return reply(400, "bad request: resource unknown here");
      if (mode === "status") return reply(fixedStatus, `status ${fixedStatus}: cannot ${quoted}`);
      if (req.method !== "POST") {
        receiver.probes += 1;
        return reply(405);
      }

      const timestamp = headers["x-jit-timestamp"];
      const signature = headers["x-jit-signature"];
      const reject = (reason: RejectedWebhook["reason"]) => {
        receiver.rejected.push({ reason, raw, headers });
        reply(401, reason);
      };
      if (typeof timestamp !== "string" || typeof signature !== "string") return reject("missing-headers");
      if (!signatureMatches(secret, timestamp, raw, signature)) return reject("bad-signature");
      if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS) {
        return reject("stale-timestamp");
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return reject("bad-json");
      }
      const event = body.event === "revoke" || body.event === "extend" ? body.event : "grant";
      receiver.events.push({ event, body, raw, headers });
      const grantId = String(body.grantId);
      // An extension of a grant the receiver does not hold is refused, as a careful receiver would.
      if (event === "extend") return receiver.active.has(grantId) ? reply(200, "extended") : reply(404);
      if (event === "grant") {
        receiver.active.add(grantId);
        return reply(200, "granted");
      }
      if (!receiver.active.delete(grantId)) return reply(404, "unknown grant");
      return reply(204);
    });
  });

  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  receiver.url = `http://127.0.0.1:${port}${path}`;
  receiver.pause = stop;
  receiver.resume = () => listen(port);
  receiver.close = () => (server.listening ? stop() : Promise.resolve());
  return receiver;
}
