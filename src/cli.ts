#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from "commander";
import { ConfigError, loadEnv } from "./config/env.js";
import { loadPolicy } from "./config/load-policy.js";
import { parseDuration } from "./domain/duration.js";
import { createLogger } from "./log.js";
import { type Role, startJit } from "./main.js";
import { verifyAudit } from "./store/audit.js";
import { exportAudit } from "./store/audit-export.js";
import { createDb } from "./store/db.js";
import { migrate } from "./store/migrator.js";

/** Commander reads durations like 24h for --since. */
function durationOption(text: string): number {
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.error);
  return parsed.seconds;
}

/** Exits with one clear line (or list) for problems the user can fix; anything else is a bug. */
function fail(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`jit: ${error.message}\n`);
  } else if (error instanceof Error && "code" in error && error.code === "ECONNREFUSED") {
    process.stderr.write(`jit: cannot connect: ${error.message}\n`);
  } else {
    process.stderr.write(`jit: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
}

const program = new Command("jit")
  .description("Just-in-time access approved in Slack")
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(`jit: ${text}`) });

program
  .command("start")
  .description("apply migrations, then serve Slack and HTTP (web) and/or run the workers")
  .addOption(
    new Option("--role <role>", "which part to run").choices(["web", "worker", "all"]).default("all"),
  )
  .action(async (options: { role: Role }) => {
    let running: Awaited<ReturnType<typeof startJit>>;
    const env = (() => {
      try {
        const loaded = loadEnv();
        return { env: loaded, policy: loadPolicy(loaded.JIT_CONFIG) };
      } catch (error) {
        return fail(error);
      }
    })();
    const logger = createLogger(env.env.LOG_LEVEL);
    try {
      running = await startJit({ ...env, role: options.role, logger });
    } catch (error) {
      logger.fatal({ err: error instanceof Error ? error.message : String(error) }, "could not start");
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      fail(error);
    }
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        logger.info({ signal }, "signal received");
        running.stop().then(
          () => logger.flush(() => process.exit(0)),
          (error) => {
            logger.error({ err: error }, "unclean shutdown");
            logger.flush(() => process.exit(1));
          },
        );
      });
    }
  });

program
  .command("migrate")
  .description("apply pending database migrations (npm start does this too)")
  .action(async () => {
    try {
      const env = loadEnv({ SLACK_BOT_TOKEN: "xoxb-unused", SLACK_SIGNING_SECRET: "unused", ...process.env });
      const result = await migrate(env.DATABASE_URL, {
        onApply: (name) => process.stdout.write(`applied ${name}\n`),
      });
      process.stdout.write(
        `database is up to date (${result.applied.length} applied now, ${result.alreadyApplied} already applied)\n`,
      );
    } catch (error) {
      fail(error);
    }
  });

const config = program.command("config").description("work with the policy file");
config
  .command("check")
  .description("validate a policy file and print every problem with its path")
  .argument("[file]", "policy file (default: $JIT_CONFIG or ./jit.config.yaml)")
  .action((file?: string) => {
    const path = file ?? process.env.JIT_CONFIG ?? "./jit.config.yaml";
    try {
      const policy = loadPolicy(path);
      process.stdout.write(
        `${path}: OK (${policy.resources.length} resource(s): ${policy.resources.map((r) => r.id).join(", ")})\n`,
      );
    } catch (error) {
      fail(error);
    }
  });

const audit = program.command("audit").description("the tamper-evident audit history");
const auditDb = () =>
  createDb(
    loadEnv({ SLACK_BOT_TOKEN: "xoxb-unused", SLACK_SIGNING_SECRET: "unused", ...process.env }).DATABASE_URL,
    2,
  );
audit
  .command("verify")
  .description("check the hash chain; exits 1 and names the first bad event if any was altered or removed")
  .action(async () => {
    const db = auditDb();
    try {
      const result = await verifyAudit(db);
      if (result.ok) {
        process.stdout.write(`audit chain OK: ${result.events} event(s) verified\n`);
      } else {
        process.stderr.write(
          `jit: audit chain BROKEN at event ${result.badSeq}: ${result.problem} (${result.events} event(s) before it verified)\n`,
        );
        process.exitCode = 1;
      }
    } catch (error) {
      fail(error);
    } finally {
      await db.$disconnect();
    }
  });
audit
  .command("export")
  .description("write audit events to stdout")
  .addOption(
    new Option("--since <duration>", "how far back, like 24h or 7d")
      .argParser(durationOption)
      .default(86_400, "24h"),
  )
  .addOption(
    new Option("--format <format>", "json (one object per line) or csv")
      .choices(["json", "csv"])
      .default("json"),
  )
  .action(async (options: { since: number; format: "json" | "csv" }) => {
    const db = auditDb();
    try {
      const since = new Date(Date.now() - options.since * 1000);
      await exportAudit(db, { since, format: options.format, write: (line) => process.stdout.write(line) });
    } catch (error) {
      fail(error);
    } finally {
      await db.$disconnect();
    }
  });

await program.parseAsync();
