/**
 * jit itself, as its own process: `startJit` (role `all`: HTTP + Slack + every worker) with the
 * contract's environment from process.env, the policy from BENCH_POLICY (YAML text, as in a policy
 * file) and tuning overrides from BENCH_TUNING (JSON, `{}` = production defaults). Reports its RSS
 * to the bench over IPC. Logs (pino, LOG_LEVEL) go to the file the bench gives as stdout.
 */
import { loadEnv } from "../src/config/env.js";
import { parsePolicy } from "../src/config/load-policy.js";
import { createLogger } from "../src/log.js";
import { startJit } from "../src/main.js";
import { reportFatal, serveParent } from "./lib/child.js";

try {
  const env = loadEnv(process.env);
  const policy = parsePolicy(process.env.BENCH_POLICY ?? "", process.env);
  const tuning = JSON.parse(process.env.BENCH_TUNING ?? "{}");
  const app = await startJit({ env, policy, role: "all", logger: createLogger(env.LOG_LEVEL), tuning });
  serveParent(() => app.stop());
  process.send?.({ type: "ready", url: `http://127.0.0.1:${app.port}` });
} catch (error) {
  reportFatal("jit", error);
}
