import { z } from "zod";
import { PolicySchema } from "./policy.js";

/**
 * The policy file's JSON Schema (draft 2020-12), derived from the zod schema rather than written
 * twice. It describes the file as written: keys with defaults are optional, durations are strings,
 * unknown keys are refused. Checks zod runs in code (provider settings per kind, duplicate ids,
 * reachable approvals) are beyond what the schema says; `jit config check` runs them.
 */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(PolicySchema, { io: "input", target: "draft-2020-12", unrepresentable: "any" }),
    title: "jit policy file",
  };
}
