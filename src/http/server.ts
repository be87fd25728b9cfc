import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type Logger, scrubSecrets, throttledWarn } from "../log.js";
import type { Metrics } from "./metrics.js";

/** A dependency /readyz probes; it rejects (or times out) when the dependency is unusable. */
export type ReadinessCheck = () => Promise<unknown>;

export interface HttpServerOptions {
  metrics: Metrics;
  /** Where a failing check's detail goes (the /readyz body only names the dependency). */
  logger: Logger;
  checks: Record<string, ReadinessCheck>;
  /**
   * False until the process has finished starting: it is not ready before then (and a SIGTERM
   * that a rollout sends the moment it looks ready would find no shutdown handler yet).
   */
  started: () => boolean;
  /** Bolt's request listener for POST /slack/events (HTTP mode only). */
  slack?: (req: IncomingMessage, res: ServerResponse) => void;
}

const CHECK_TIMEOUT_MS = 2_000;

function withTimeout(check: ReadinessCheck): Promise<unknown> {
  return Promise.race([
    check(),
    new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), CHECK_TIMEOUT_MS).unref()),
  ]);
}

/**
 * Runs every check. The answer says only which dependency is down: a driver's message can name
 * hosts, ports and users, which a probe endpoint must not tell whoever can reach it. The detail
 * is logged instead (once per 10 s per dependency, as probes repeat).
 */
function readinessProbe(logger: Logger) {
  const warnings = new Map<string, ReturnType<typeof throttledWarn>>();
  const warn = (name: string, error: unknown) => {
    if (!warnings.has(name)) warnings.set(name, throttledWarn(logger, "readiness check failed"));
    const detail = error instanceof Error ? error.message : String(error);
    warnings.get(name)?.({ check: name, err: scrubSecrets(detail) });
  };
  return async (checks: Record<string, ReadinessCheck>) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check);
          return [name, "ok"] as const;
        } catch (error) {
          warn(name, error);
          return [name, "down"] as const;
        }
      }),
    );
    const down = results.filter(([, state]) => state !== "ok").map(([name]) => name);
    return { ready: down.length === 0, down, checks: Object.fromEntries(results) };
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** One HTTP server for Slack, health, readiness and metrics. */
export function createHttpServer(options: HttpServerOptions): Server {
  const readiness = readinessProbe(options.logger);
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (req.method === "GET" && path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (req.method === "GET" && path === "/readyz") {
      if (!options.started()) return sendJson(res, 503, { status: "starting" });
      const result = await readiness(options.checks);
      return sendJson(res, result.ready ? 200 : 503, {
        status: result.ready ? "ready" : `unavailable: ${result.down.join(", ")} down`,
        checks: result.checks,
      });
    }
    if (req.method === "GET" && path === "/metrics") {
      res.writeHead(200, { "content-type": options.metrics.registry.contentType });
      return res.end(await options.metrics.registry.metrics());
    }
    if (path === "/slack/events" && options.slack) {
      if (req.method !== "POST") return sendJson(res, 405, { error: "use POST" });
      return options.slack(req, res);
    }
    sendJson(res, 404, { error: "not found" });
  });
  server.keepAliveTimeout = 65_000;
  return server;
}
