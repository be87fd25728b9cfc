import { z } from "zod";

/** The process environment of the contract. Nothing else in jit reads process.env. */
export const EnvSchema = z
  .object({
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
  })
  .refine((env) => env.SLACK_SIGNING_SECRET || env.SLACK_APP_TOKEN, {
    path: ["SLACK_SIGNING_SECRET"],
    message: "is required unless SLACK_APP_TOKEN (Socket Mode) is set",
    // Check even when other variables are already wrong (e.g. PORT=abc), so one run lists every problem.
    when: () => true,
  });

export type Env = z.infer<typeof EnvSchema>;

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const blanksRemoved = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ""));
  const result = EnvSchema.safeParse(blanksRemoved);
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
