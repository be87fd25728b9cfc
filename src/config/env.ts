import { z } from "zod";

/** The process environment of the contract, variable by variable. Nothing else in jit reads process.env. */
const EnvFields = z.object({
  SLACK_BOT_TOKEN: z
    .string({ error: "is required (the bot token, xoxb-…)" })
    .regex(/^xoxb-/, "must be a bot token starting with xoxb-"),
  SLACK_SIGNING_SECRET: z.string().min(1, "must not be empty").optional(),
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-/, "must be an app-level token starting with xapp-")
    .optional(),
  SLACK_API_URL: z
    .url({ error: "must be a URL such as https://slack.com/api/" })
    .default("https://slack.com/api/")
    .transform((url) => (url.endsWith("/") ? url : `${url}/`)),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL")
    .default("postgresql://postgres@127.0.0.1:5432/jit"),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL")
    .default("redis://127.0.0.1:6379"),
  PORT: z.coerce
    .number({ error: "must be a port number" })
    .int("must be a whole number")
    .min(0)
    .max(65535)
    .default(3000),
  JIT_CONFIG: z.string().min(1).default("./jit.config.yaml"),
  JIT_QUEUE_PREFIX: z.string().min(1).default("jit"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  JIT_AUDIT_KEY: z
    .string()
    .min(32, "must be at least 32 characters (e.g. the output of: openssl rand -base64 32)")
    .optional(),
});

/** Everything `jit start` needs. */
export const EnvSchema = EnvFields.refine((env) => env.SLACK_SIGNING_SECRET || env.SLACK_APP_TOKEN, {
  path: ["SLACK_SIGNING_SECRET"],
  message: "is required unless SLACK_APP_TOKEN (Socket Mode) is set",
  // Check even when other variables are already wrong (e.g. PORT=abc), so one run lists every problem.
  when: () => true,
});

export type Env = z.infer<typeof EnvSchema>;

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  return parseEnv(EnvSchema, source);
}

type EnvName = keyof typeof EnvFields.shape;

/** Every variable jit reads (the README and .env.example document each one). */
export const ENV_NAMES = Object.keys(EnvFields.shape) as EnvName[];

/**
 * Parses only the variables a command uses (the CLI's `audit verify` needs no Slack token), so an
 * unrelated bad variable cannot stop it; the same messages as loadEnv.
 */
export function loadEnvFor<const Name extends EnvName>(
  names: readonly Name[],
  source: NodeJS.ProcessEnv = process.env,
): Pick<Env, Name> {
  const mask = Object.fromEntries(names.map((name) => [name, true]));
  // zod cannot type a pick by a generic list of names; the picked fields are Env's own.
  const schema = EnvFields.pick(mask as never) as unknown as z.ZodType<Pick<Env, Name>>;
  return parseEnv(schema, source);
}

/**
 * DATABASE_URL when it is set (validated), undefined when it is not: `jit config check` looks at the
 * database only when told where it is, instead of trying the default.
 */
export function explicitDatabaseUrl(source: NodeJS.ProcessEnv = process.env): string | undefined {
  return source.DATABASE_URL ? loadEnvFor(["DATABASE_URL"], source).DATABASE_URL : undefined;
}

/** SLACK_BOT_TOKEN when it is set (validated): tools that can do without Slack ask for it this way. */
export function optionalBotToken(source: NodeJS.ProcessEnv = process.env): string | undefined {
  return source.SLACK_BOT_TOKEN ? loadEnvFor(["SLACK_BOT_TOKEN"], source).SLACK_BOT_TOKEN : undefined;
}

function parseEnv<T>(schema: z.ZodType<T>, source: NodeJS.ProcessEnv): T {
  const blanksRemoved = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ""));
  const result = schema.safeParse(blanksRemoved);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  throw new ConfigError("environment", problems);
}

/** A configuration problem; the message lists each problem with its variable name or key path. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}
