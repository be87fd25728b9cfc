import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, ENV_NAMES, loadEnv, loadEnvFor } from "./env.js";

const minimal = { SLACK_BOT_TOKEN: "xoxb-1-abc", SLACK_SIGNING_SECRET: "shh" };

/** The problems loadEnv reports for `source`; fails the test when it does not throw a ConfigError. */
function problemsOf(source: NodeJS.ProcessEnv): string[] {
  try {
    loadEnv(source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("loadEnv accepted an invalid environment");
}

describe("loadEnv", () => {
  it("applies the contract's defaults", () => {
    const env = loadEnv(minimal);
    expect(env).toEqual({
      SLACK_BOT_TOKEN: "xoxb-1-abc",
      SLACK_SIGNING_SECRET: "shh",
      SLACK_API_URL: "https://slack.com/api/",
      DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/jit",
      REDIS_URL: "redis://127.0.0.1:6379",
      PORT: 3000,
      JIT_CONFIG: "./jit.config.yaml",
      JIT_QUEUE_PREFIX: "jit",
      LOG_LEVEL: "info",
    });
  });

  it("reads every variable it is given, ignoring unrelated ones", () => {
    const env = loadEnv({
      ...minimal,
      SLACK_APP_TOKEN: "xapp-1-xyz",
      SLACK_API_URL: "http://127.0.0.1:4000/api/",
      DATABASE_URL: "postgres://app:pw@db:5432/jit_prod",
      REDIS_URL: "rediss://cache:6380",
      PORT: "8080",
      JIT_CONFIG: "/etc/jit/policy.yaml",
      LOG_LEVEL: "debug",
      HOME: "/root",
    });
    expect(env).toMatchObject({
      SLACK_APP_TOKEN: "xapp-1-xyz",
      SLACK_API_URL: "http://127.0.0.1:4000/api/",
      DATABASE_URL: "postgres://app:pw@db:5432/jit_prod",
      REDIS_URL: "rediss://cache:6380",
      PORT: 8080,
      JIT_CONFIG: "/etc/jit/policy.yaml",
      LOG_LEVEL: "debug",
    });
    expect(env).not.toHaveProperty("HOME");
  });

  it("adds the trailing slash SLACK_API_URL needs to be a base URL", () => {
    expect(loadEnv({ ...minimal, SLACK_API_URL: "http://127.0.0.1:9/api" }).SLACK_API_URL).toBe(
      "http://127.0.0.1:9/api/",
    );
    expect(loadEnv({ ...minimal, SLACK_API_URL: "http://127.0.0.1:9/api/" }).SLACK_API_URL).toBe(
      "http://127.0.0.1:9/api/",
    );
  });

  it("accepts PORT 0 (any free port) and rejects ports out of range or not numbers", () => {
    expect(loadEnv({ ...minimal, PORT: "0" }).PORT).toBe(0);
    expect(problemsOf({ ...minimal, PORT: "70000" })).toEqual(["PORT: must be a port number"]);
    expect(problemsOf({ ...minimal, PORT: "http" })).toEqual(["PORT: must be a port number"]);
    expect(problemsOf({ ...minimal, PORT: "80.5" })).toEqual(["PORT: must be a whole number"]);
  });

  it("requires SLACK_BOT_TOKEN", () => {
    expect(problemsOf({ SLACK_SIGNING_SECRET: "shh" })).toEqual([
      "SLACK_BOT_TOKEN: is required (the bot token, xoxb-…)",
    ]);
  });

  it("requires SLACK_SIGNING_SECRET unless SLACK_APP_TOKEN selects Socket Mode", () => {
    expect(problemsOf({ SLACK_BOT_TOKEN: "xoxb-1" })).toEqual([
      "SLACK_SIGNING_SECRET: is required unless SLACK_APP_TOKEN (Socket Mode) is set",
    ]);
    const socketMode = loadEnv({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_APP_TOKEN: "xapp-1" });
    expect(socketMode.SLACK_APP_TOKEN).toBe("xapp-1");
    expect(socketMode.SLACK_SIGNING_SECRET).toBeUndefined();
  });

  it("rejects tokens with the wrong prefix", () => {
    expect(problemsOf({ ...minimal, SLACK_BOT_TOKEN: "xoxp-user-token" })).toEqual([
      "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-",
    ]);
    expect(problemsOf({ ...minimal, SLACK_APP_TOKEN: "xoxb-not-an-app-token" })).toEqual([
      "SLACK_APP_TOKEN: must be an app-level token starting with xapp-",
    ]);
  });

  it("treats empty variables as unset (defaults apply, required ones are missing)", () => {
    const env = loadEnv({
      ...minimal,
      SLACK_APP_TOKEN: "",
      SLACK_API_URL: "",
      DATABASE_URL: "",
      REDIS_URL: "",
      PORT: "",
      JIT_CONFIG: "",
      LOG_LEVEL: "",
    });
    expect(env.SLACK_APP_TOKEN).toBeUndefined();
    expect(env.SLACK_API_URL).toBe("https://slack.com/api/");
    expect(env.DATABASE_URL).toBe("postgresql://postgres@127.0.0.1:5432/jit");
    expect(env.REDIS_URL).toBe("redis://127.0.0.1:6379");
    expect(env.PORT).toBe(3000);
    expect(env.JIT_CONFIG).toBe("./jit.config.yaml");
    expect(env.LOG_LEVEL).toBe("info");
    // An empty secret is a missing secret, not a valid one.
    expect(problemsOf({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_SIGNING_SECRET: "" })).toEqual([
      "SLACK_SIGNING_SECRET: is required unless SLACK_APP_TOKEN (Socket Mode) is set",
    ]);
    expect(problemsOf({ SLACK_BOT_TOKEN: "", SLACK_SIGNING_SECRET: "shh" })).toEqual([
      "SLACK_BOT_TOKEN: is required (the bot token, xoxb-…)",
    ]);
  });

  it("reports every problem at once, each with its variable name", () => {
    const problems = problemsOf({
      SLACK_BOT_TOKEN: "xoxp-1",
      SLACK_APP_TOKEN: "xoxb-2",
      SLACK_API_URL: "not a url",
      DATABASE_URL: "mysql://db/jit",
      REDIS_URL: "http://cache",
      PORT: "eighty",
      LOG_LEVEL: "loud",
    });
    expect(problems).toHaveLength(7);
    expect(problems).toEqual(
      expect.arrayContaining([
        "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-",
        "SLACK_APP_TOKEN: must be an app-level token starting with xapp-",
        "SLACK_API_URL: must be a URL such as https://slack.com/api/",
        "DATABASE_URL: must be a postgresql:// URL",
        "REDIS_URL: must be a redis:// or rediss:// URL",
        "PORT: must be a port number",
      ]),
    );
    expect(problems.find((p) => p.startsWith("LOG_LEVEL: "))).toContain('"debug"');
  });

  it("reports the missing signing secret together with other problems", () => {
    expect(problemsOf({ SLACK_BOT_TOKEN: "bad", PORT: "x" })).toEqual([
      "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-",
      "PORT: must be a port number",
      "SLACK_SIGNING_SECRET: is required unless SLACK_APP_TOKEN (Socket Mode) is set",
    ]);
  });

  it("throws a ConfigError whose message lists each problem on its own line", () => {
    expect(() => loadEnv({ PORT: "x", SLACK_SIGNING_SECRET: "s" })).toThrow(
      "invalid environment:\n  - SLACK_BOT_TOKEN: is required (the bot token, xoxb-…)\n  - PORT: must be a port number",
    );
  });

  it("takes a JIT_AUDIT_KEY of at least 32 characters", () => {
    expect(loadEnv({ ...minimal, JIT_AUDIT_KEY: "k".repeat(32) }).JIT_AUDIT_KEY).toBe("k".repeat(32));
    expect(problemsOf({ ...minimal, JIT_AUDIT_KEY: "k".repeat(31) })).toEqual([
      "JIT_AUDIT_KEY: must be at least 32 characters (e.g. the output of: openssl rand -base64 32)",
    ]);
  });
});

describe("loadEnvFor", () => {
  it("checks only the variables a command names, with loadEnv's messages and defaults", () => {
    const unrelatedBad = { LOG_LEVEL: "verbose", PORT: "eighty", SLACK_BOT_TOKEN: "xoxp-1" };
    expect(loadEnvFor(["DATABASE_URL", "JIT_AUDIT_KEY"], unrelatedBad)).toEqual({
      DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/jit",
    });
    expect(() => loadEnvFor(["DATABASE_URL"], { ...unrelatedBad, DATABASE_URL: "mysql://db" })).toThrow(
      new ConfigError("environment", ["DATABASE_URL: must be a postgresql:// URL"]),
    );
    expect(() => loadEnvFor(["JIT_AUDIT_KEY"], { JIT_AUDIT_KEY: "short" })).toThrow(ConfigError);
  });
});

describe("documentation", () => {
  it("names every variable in the README's table and in .env.example", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const example = readFileSync(new URL("../../.env.example", import.meta.url), "utf8");
    for (const name of ENV_NAMES) {
      expect(readme, `README lacks ${name}`).toMatch(new RegExp(`^\\| \`${name}\``, "m"));
      expect(example, `.env.example lacks ${name}`).toMatch(new RegExp(`^#? ?${name}=`, "m"));
    }
  });
});
