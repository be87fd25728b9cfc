import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export type JitRole = "web" | "worker" | "all";

/**
 * jit as a real child process (`node --import tsx src/cli.ts start --role …`), with production
 * tuning: what the fault tests kill, restart and run side by side.
 */
export interface JitProcess {
  role: JitRole;
  pid: number;
  /** HTTP port (web and all roles), as the process reported it; known once {@link ready} resolved. */
  readonly port: number;
  /** `http://127.0.0.1:<port>` (web and all roles); known once {@link ready} resolved. */
  readonly url: string;
  /** Everything written so far (stdout and stderr interleaved). */
  output(): string;
  /** Log lines parsed as JSON (pino); non-JSON lines are skipped. */
  logs(): Record<string, unknown>[];
  /** Resolves when the process is serving: /readyz is 200 (web, all) or the worker said it runs. */
  ready(timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Whether the process is still running. */
  running(): boolean;
  /** SIGKILL: no clean-up at all, like a crashed container. Resolves when it is gone. */
  kill(): Promise<void>;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). Resolves with the exit code. */
  terminate(graceMs?: number): Promise<number | string>;
}

export interface JitProcessOptions {
  role: JitRole;
  /**
   * The contract's variables (DATABASE_URL, REDIS_URL, JIT_CONFIG, …). PORT defaults to 0: the
   * process binds a free port and reports it in its "web role listening" log line, so no other
   * server can take the port between picking it and binding it.
   */
  env: Record<string, string>;
  /** Prefix for output lines echoed to the test's stderr when JIT_TEST_ECHO=1. */
  label?: string;
}

export async function startJitProcess(options: JitProcessOptions): Promise<JitProcess> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: "info",
    PORT: "0",
    ...options.env,
  };
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "src", "cli.ts"), "start", "--role", options.role],
    { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  const label = options.label ?? options.role;
  const collect = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    out += text;
    if (process.env.JIT_TEST_ECHO === "1") {
      for (const line of text.split("\n").filter(Boolean)) process.stderr.write(`[${label}] ${line}\n`);
    }
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  let done = false;
  exited.then(() => {
    done = true;
  });
  let port = 0;
  const listening = () => {
    const line = proc.logs().find((l) => l.msg === "web role listening");
    return typeof line?.port === "number" ? line.port : 0;
  };

  const proc: JitProcess = {
    role: options.role,
    pid: child.pid ?? -1,
    get port() {
      if (!port) throw new Error(`jit ${label} has not reported its HTTP port (yet)`);
      return port;
    },
    get url() {
      return `http://127.0.0.1:${proc.port}`;
    },
    output: () => out,
    logs: () =>
      out.split("\n").flatMap((line) => {
        if (!line.startsWith("{")) return [];
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    exited,
    running: () => !done,
    async ready(timeoutMs = 30_000) {
      await waitFor(
        async () => {
          if (done) throw new Error(`jit ${label} exited early:\n${out.slice(-3_000)}`);
          if (options.role === "worker") return out.includes("worker role running");
          port ||= listening();
          if (!port) return false;
          const res = await fetch(`${proc.url}/readyz`, { signal: AbortSignal.timeout(2_500) });
          return res.status === 200;
        },
        { timeout: timeoutMs, interval: 100, message: `jit ${label} not ready` },
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n--- output ---\n${out.slice(-3_000)}`);
      });
    },
    async kill() {
      if (!done) child.kill("SIGKILL");
      await exited;
    },
    async terminate(graceMs = 20_000) {
      if (!done) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return proc;
}
