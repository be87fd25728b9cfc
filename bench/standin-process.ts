/**
 * The Slack stand-in (test/support/slack-standin.ts) in its own process, so the Web API calls and
 * response_url posts the apps make cost CPU here, not in the load generator or the receiver.
 *
 * Env: BENCH_STANDIN_OPTIONS (JSON of SlackStandinOptions).
 */
import { startSlackStandin } from "../test/support/slack-standin.js";
import { reportFatal, serveParent } from "./lib/child.js";

try {
  const standin = await startSlackStandin(JSON.parse(process.env.BENCH_STANDIN_OPTIONS ?? "{}"));
  serveParent(() => standin.close());
  process.on("message", (raw) => {
    const message = raw as { type: string };
    if (message.type === "stats") {
      const byMethod: Record<string, number> = {};
      for (const call of standin.calls) byMethod[call.method] = (byMethod[call.method] ?? 0) + 1;
      const failed = standin.calls.filter((c) => !c.ok).length;
      process.send?.({
        type: "stats",
        calls: standin.calls.length,
        failed,
        byMethod,
        responses: standin.responses.length,
      });
    }
  });
  process.send?.({ type: "ready", url: standin.url, origin: standin.origin });
} catch (error) {
  reportFatal("stand-in", error);
}
