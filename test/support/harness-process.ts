import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Harness } from "./harness.js";
import { type JitProcess, type JitRole, startJitProcess } from "./jit-process.js";
import { freePort } from "./ports.js";

/**
 * A real `jit start --role <role>` process beside a harness: same database, Redis prefix and Slack
 * stand-in, the given policy, LOG_LEVEL=info, and a PORT chosen here so the test knows its URL
 * before the process says anything (any role, and even while it is still starting).
 */
export async function startProcessBeside(
  h: Harness,
  role: JitRole,
  policy: string,
): Promise<{ proc: JitProcess; port: number; url: string }> {
  const file = join(mkdtempSync(join(tmpdir(), "jit-proc-")), "policy.yaml");
  writeFileSync(file, policy);
  const port = await freePort();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(h.env)) if (value !== undefined) env[key] = value;
  const proc = await startJitProcess({
    role,
    env: { ...env, JIT_CONFIG: file, PORT: String(port), LOG_LEVEL: "info" },
  });
  return { proc, port, url: `http://127.0.0.1:${port}` };
}
