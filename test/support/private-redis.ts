import { type ChildProcess, spawn } from "node:child_process";
import { createConnection } from "node:net";
import { freePort } from "./ports.js";
import { waitFor } from "./wait.js";

/**
 * A throwaway `redis-server` on its own port, for fault tests that must restart or flush Redis
 * without touching the shared instance other test files use. No persistence: a restart comes back
 * empty, which is exactly "Redis restarted and lost its data".
 */
export interface PrivateRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL) and starts a fresh, empty one on the same port. */
  restart(): Promise<void>;
  /** Kills the server and waits for it to go (the port then refuses connections). */
  kill(): Promise<void>;
  /** Starts the server again after {@link kill}. */
  start(): Promise<void>;
  /** Kills it for good. Safe to call twice. */
  stop(): Promise<void>;
}

/** Resolves true when something answers PING with PONG on the port. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

/** `extraArgs` are passed to redis-server (e.g. `["--maxmemory-policy", "allkeys-lru"]`). */
export async function startPrivateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let stopped = false;
  let log = "";

  const start = async () => {
    const proc = spawn(
      process.env.REDIS_SERVER ?? "redis-server",
      [
        "--save",
        "",
        "--appendonly",
        "no",
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--daemonize",
        "no",
        ...extraArgs,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    proc.stdout?.on("data", (d: Buffer) => {
      log = (log + d.toString()).slice(-4_000);
    });
    proc.stderr?.on("data", (d: Buffer) => {
      log = (log + d.toString()).slice(-4_000);
    });
    child = proc;
    await waitFor(() => pings(port), {
      timeout: 10_000,
      interval: 50,
      message: `redis-server on ${port} did not start (${log})`,
    });
  };

  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGKILL");
    await exited;
    await waitFor(async () => !(await pings(port)), { timeout: 5_000, interval: 50 });
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart() {
      await kill();
      await start();
    },
    kill,
    start,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
    },
  };
}
