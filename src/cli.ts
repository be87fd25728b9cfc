#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from "commander";
import { lastWindow, summaryTitle } from "./app/audit-summary.js";
import { describeStrandedGrants, strandedGrantsIn } from "./app/stranded-grants.js";
import { summaryPlainText } from "./app/summary-figures.js";
import { ConfigError, explicitDatabaseUrl, loadEnv, loadEnvFor } from "./config/env.js";
import { loadPolicy } from "./config/load-policy.js";
import { policyJsonSchema } from "./config/policy-schema.js";
import { parseDuration } from "./domain/duration.js";
import { createLogger } from "./log.js";
import { type Role, startJit } from "./main.js";
import { explainWithSlack } from "./slack/policy-explain.js";
import { exportAudit } from "./store/audit-export.js";
import { readSummary } from "./store/audit-summary.js";
import {
  type Checkpoint,
  formatCheckpoint,
  parseCheckpoint,
  type Stretch,
  verifyAudit,
} from "./store/audit-verify.js";
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

/** The variables one command uses, validated alone: an unrelated bad one cannot stop it. */
function envFor<const Name extends Parameters<typeof loadEnvFor>[0][number]>(names: readonly Name[]) {
  try {
    return loadEnvFor(names);
  } catch (error) {
    return fail(error);
  }
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
      const env = envFor(["DATABASE_URL"]);
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
  .description(
    "validate a policy file and print every problem with its path; with DATABASE_URL set, also refuse a policy that would strand active grants",
  )
  .argument("[file]", "policy file (default: $JIT_CONFIG or ./jit.config.yaml)")
  .action(async (file?: string) => {
    try {
      const path = file ?? loadEnvFor(["JIT_CONFIG"]).JIT_CONFIG;
      const policy = loadPolicy(path);
      const databaseUrl = explicitDatabaseUrl();
      const stranded = databaseUrl ? await strandedGrantsIn(databaseUrl, policy) : [];
      if (stranded.length > 0) throw new ConfigError(path, [describeStrandedGrants(stranded)]);
      process.stdout.write(
        `${path}: OK (${policy.resources.length} resource(s): ${policy.resources.map((r) => r.id).join(", ")})` +
          `${databaseUrl ? "; no active grant is stranded by it" : ""}\n`,
      );
    } catch (error) {
      fail(error);
    }
  });

config
  .command("schema")
  .description("print the policy file's JSON Schema (draft 2020-12), for editors and CI linters")
  .action(() => {
    process.stdout.write(`${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
  });

program
  .command("policy")
  .description("understand the policy file")
  .command("explain")
  .description(
    "who may request and approve a resource, how many approvals, durations, break-glass and identities; with --user, what that person may do and why not (groups resolved through Slack when SLACK_BOT_TOKEN works)",
  )
  .argument("<resource>", "a resource id from the policy file")
  .option("--user <slack id>", "explain for one person, like U0123ABCD")
  .action(async (resourceId: string, options: { user?: string }) => {
    try {
      const env = loadEnvFor(["JIT_CONFIG", "SLACK_API_URL", "DATABASE_URL"]);
      if (options.user && !/^[UW][A-Z0-9]{2,}$/.test(options.user)) {
        throw new ConfigError("option", [`--user: must be a Slack user id like U0123ABCD`]);
      }
      const policy = loadPolicy(env.JIT_CONFIG);
      const resource = policy.resources.find((r) => r.id === resourceId);
      if (!resource) {
        const known = policy.resources.map((r) => r.id).join(", ");
        throw new ConfigError(env.JIT_CONFIG, [`no resource "${resourceId}" (known: ${known})`]);
      }
      const lines = await explainWithSlack(policy, resource, env, options.user);
      process.stdout.write(`${lines.join("\n")}\n`);
    } catch (error) {
      fail(error);
    }
  });

const audit = program.command("audit").description("the tamper-evident audit history");

/** Runs `work` with a small database pool, reporting any failure as one line. */
async function withAuditDb(databaseUrl: string, work: (db: ReturnType<typeof createDb>) => Promise<void>) {
  const db = createDb(databaseUrl, 2);
  try {
    await work(db);
  } catch (error) {
    fail(error);
  } finally {
    await db.$disconnect();
  }
}

function checkpointOption(text: string): Checkpoint {
  const parsed = parseCheckpoint(text);
  if (typeof parsed === "string") throw new InvalidArgumentError(parsed);
  return parsed;
}

function describeStretch(stretch: Stretch): string {
  const how = stretch.scheme === "sha256" ? "unkeyed" : "keyed with JIT_AUDIT_KEY";
  return `events ${stretch.from}-${stretch.to}: ${stretch.scheme} (${how})\n`;
}

audit
  .command("verify")
  .description(
    "check the hash chain (keyed stretches with JIT_AUDIT_KEY); exits 1 and names the first bad event if any was altered or removed",
  )
  .addOption(
    new Option(
      "--checkpoint <seq:hash>",
      "a chain head kept outside the database; fails if the chain no longer hashes to it (catches removed newest events)",
    ).argParser(checkpointOption),
  )
  .action(async (options: { checkpoint?: Checkpoint }) => {
    const env = envFor(["DATABASE_URL", "JIT_AUDIT_KEY"]);
    await withAuditDb(env.DATABASE_URL, async (db) => {
      const result = await verifyAudit(db, {
        key: env.JIT_AUDIT_KEY,
        checkpoint: options.checkpoint,
        recorded: true,
      });
      const stretches = result.stretches.map(describeStretch).join("");
      if (!result.ok) {
        process.stdout.write(stretches);
        process.stderr.write(
          `jit: audit chain BROKEN at event ${result.badSeq}: ${result.problem} (${result.events} event(s) before it verified)\n`,
        );
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        `audit chain OK: ${result.events} event(s) verified\n${stretches}head: ${formatCheckpoint(result.head)} (keep a copy outside the database; pass it later as --checkpoint)\n`,
      );
      if (options.checkpoint) {
        process.stdout.write(`checkpoint ${formatCheckpoint(options.checkpoint)}: matches\n`);
      }
      const { highest, checked } = result.recorded;
      process.stdout.write(
        highest
          ? `highest checkpoint known: ${formatCheckpoint(highest)}, posted to ${highest.channel} at ${highest.at.toISOString()} (${checked} posted checkpoint(s) match; compare the newest with the copy in Slack, or pass it as --checkpoint)\n`
          : options.checkpoint
            ? ""
            : "highest checkpoint known: none - pass --checkpoint <seq>:<hash> from a copy held outside the database (removal of the newest events is caught only that way)\n",
      );
      const newest = result.stretches.at(-1);
      if (env.JIT_AUDIT_KEY !== undefined && newest?.scheme === "sha256") {
        process.stdout.write(
          "note: JIT_AUDIT_KEY is set but the newest events are unkeyed: expected only if jit has not written since the key was set\n",
        );
      }
    });
  });
audit
  .command("summary")
  .description("print an audit summary of the window in the terminal (the one /jit audit posts)")
  .addOption(
    new Option("--since <duration>", "the window, like 24h, 7d or 30d")
      .argParser(durationOption)
      .default(86_400, "24h"),
  )
  .action(async (options: { since: number }) => {
    const env = envFor(["DATABASE_URL"]);
    await withAuditDb(env.DATABASE_URL, async (db) => {
      const window = lastWindow(options.since);
      const data = await readSummary(db, window);
      process.stdout.write(summaryPlainText(data, summaryTitle("manual", window)));
    });
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
    const env = envFor(["DATABASE_URL"]);
    await withAuditDb(env.DATABASE_URL, async (db) => {
      const since = new Date(Date.now() - options.since * 1000);
      await exportAudit(db, { since, format: options.format, write: (line) => process.stdout.write(line) });
    });
  });

await program.parseAsync();
