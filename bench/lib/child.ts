/**
 * Runs one bench component (jit, the floor app, the Slack stand-in, the webhook receiver) as its own
 * Node process, talking to the bench over IPC. A separate process keeps each component's CPU and
 * memory its own: the app's peak RSS is its alone, and a busy stand-in cannot delay the receiver's
 * clock or the load generator's measurements.
 */
import { type ChildProcess, fork } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";

export interface ChildMessage {
  type: string;
  [key: string]: unknown;
}

export interface BenchChild {
  readonly pid: number;
  readonly process: ChildProcess;
  /** The child's first `{ type: "ready" }` message. */
  readonly ready: Promise<ChildMessage>;
  /** Highest RSS seen: the child's own samples and /proc/<pid>/status VmHWM (bytes). */
  peakRss(): number;
  /** CPU time (user + system) the child has used so far, in seconds (from /proc/<pid>/stat). */
  cpuSeconds(): number;
  send(message: ChildMessage): void;
  onMessage(handler: (message: ChildMessage) => void): void;
  /** Sends the request and resolves with the first message of `replyType`. */
  request(message: ChildMessage, replyType: string, timeoutMs?: number): Promise<ChildMessage>;
  /** Asks the child to stop cleanly (SIGKILL after `graceMs`); resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** VmHWM (peak resident set) of a live process, in bytes; 0 when it cannot be read. */
export function vmHwm(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** utime + stime of a live process, in seconds; 0 when it cannot be read. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which is in parentheses and may contain spaces).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return 0;
  }
}

export function startChild(
  script: string,
  options: { env: NodeJS.ProcessEnv; logFile: string; name: string; execArgv?: string[] },
): BenchChild {
  const log = openSync(options.logFile, "a");
  const child = fork(script, [], {
    env: options.env,
    execArgv: options.execArgv ?? ["--import", "tsx"],
    stdio: ["ignore", log, log, "ipc"],
  });
  closeSync(log);
  const handlers: ((message: ChildMessage) => void)[] = [];
  let sampledPeak = 0;
  let lastHwm = 0;
  let lastCpu = 0;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let alive = true;
  child.once("exit", () => {
    alive = false;
  });
  child.on("message", (raw) => {
    const message = raw as ChildMessage;
    if (message.type === "rss" && typeof message.rss === "number") {
      sampledPeak = Math.max(sampledPeak, message.rss);
    }
    for (const handler of handlers) handler(message);
  });
  const ready = new Promise<ChildMessage>((resolve, reject) => {
    handlers.push((message) => {
      if (message.type === "ready") resolve(message);
      if (message.type === "fatal") reject(new Error(`${options.name}: ${String(message.error)}`));
    });
    child.once("exit", (code) =>
      reject(new Error(`${options.name} exited (${code}) before it was ready; see ${options.logFile}`)),
    );
  });
  ready.catch(() => undefined);
  const pid = child.pid ?? 0;
  return {
    pid,
    process: child,
    ready,
    peakRss() {
      if (alive) lastHwm = Math.max(lastHwm, vmHwm(pid));
      return Math.max(sampledPeak, lastHwm);
    },
    cpuSeconds() {
      if (alive) lastCpu = Math.max(lastCpu, cpuSeconds(pid));
      return lastCpu;
    },
    send(message) {
      child.send(message);
    },
    onMessage(handler) {
      handlers.push(handler);
    },
    request(message, replyType, timeoutMs = 30_000) {
      return new Promise<ChildMessage>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${options.name}: no ${replyType} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        let done = false;
        handlers.push((reply) => {
          if (done || reply.type !== replyType) return;
          done = true;
          clearTimeout(timer);
          resolve(reply);
        });
        child.send(message);
      });
    },
    async stop(graceMs = 20_000) {
      if (!alive) return;
      lastHwm = Math.max(lastHwm, vmHwm(pid));
      child.send({ type: "stop" });
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** For child scripts: report RSS to the parent every `everyMs`, and run `onStop` when asked. */
export function serveParent(onStop: () => Promise<void>, everyMs = 200): void {
  const send = (message: ChildMessage) => {
    if (process.connected) process.send?.(message);
  };
  const sample = () => send({ type: "rss", rss: process.memoryUsage().rss });
  const timer = setInterval(sample, everyMs);
  process.on("message", (raw) => {
    const message = raw as ChildMessage;
    if (message.type !== "stop") return;
    clearInterval(timer);
    sample();
    onStop()
      .catch((error: unknown) => console.error("stop failed", error))
      .finally(() => {
        send({ type: "stopped" });
        process.disconnect?.();
        process.exit(0);
      });
  });
  process.on("disconnect", () => process.exit(0));
}

export function reportFatal(name: string, error: unknown): void {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(`${name} failed:`, message);
  if (process.connected) process.send?.({ type: "fatal", error: message });
  setTimeout(() => process.exit(1), 100);
}
