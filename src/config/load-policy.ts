import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import type { ZodError } from "zod";
import { ConfigError } from "./env.js";
import { type Policy, PolicySchema } from "./policy.js";

/** `a.b[2].c`: the way users see a key in their YAML file. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((key, index) =>
      typeof key === "number" ? `[${key}]` : index === 0 ? String(key) : `.${String(key)}`,
    )
    .join("");
}

export function formatZodIssues(error: ZodError, skipPaths: ReadonlySet<string> = new Set()): string[] {
  return error.issues
    .filter((issue) => !skipPaths.has(formatPath(issue.path)))
    .map((issue) => {
      const path = formatPath(issue.path);
      const message =
        issue.code === "unrecognized_keys"
          ? `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`
          : issue.message;
      return path ? `${path}: ${message}` : message;
    });
}

/**
 * Replaces `${VAR}` in every string value with the environment's value. Done after YAML parsing,
 * so a secret containing YAML syntax cannot change the document's structure.
 */
export function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: PropertyKey[],
  problems: { path: string; message: string }[],
): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const found = env[name];
      const problem = { path: formatPath(path), message: `environment variable ${name} is not set` };
      // "${U}:${U}" names U once.
      if (
        found === undefined &&
        !problems.some((p) => p.path === problem.path && p.message === problem.message)
      )
        problems.push(problem);
      return found ?? "";
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, [...path, i], problems));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolate(item, env, [...path, key], problems)]),
    );
  }
  return value;
}

/** Parses policy YAML text; throws ConfigError listing every problem with its key path. */
export function parsePolicy(
  text: string,
  env: NodeJS.ProcessEnv = process.env,
  source = "policy file",
): Policy {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      source,
      // First line only ("… at line 2, column 3:"), without the colon that introduced the code excerpt.
      document.errors.map((error) => (error.message.split("\n")[0] ?? error.message).replace(/:$/, "")),
    );
  }
  const missing: { path: string; message: string }[] = [];
  const raw = interpolate(document.toJS() ?? {}, env, [], missing);
  const result = PolicySchema.safeParse(raw);
  // A value whose variable is unset is reported once, as unset, not also as malformed.
  const problems = missing.map((m) => `${m.path}: ${m.message}`);
  if (!result.success) problems.push(...formatZodIssues(result.error, new Set(missing.map((m) => m.path))));
  if (problems.length > 0 || !result.success) throw new ConfigError(source, problems);
  return result.data;
}

export function loadPolicy(file: string, env: NodeJS.ProcessEnv = process.env): Policy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(error);
    throw new ConfigError(`policy file ${file}`, [`JIT_CONFIG: ${reason}`]);
  }
  return parsePolicy(text, env, `policy file ${file}`);
}
