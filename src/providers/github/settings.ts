import { createPrivateKey } from "node:crypto";
import { z } from "zod";
import { isAllowedWebhookUrl } from "../webhook/url.js";

/** Repository permissions, weakest first (GitHub's names for `PUT …/collaborators/{login}`). */
export const GITHUB_PERMISSIONS = ["pull", "triage", "push", "maintain", "admin"] as const;
export type GithubPermission = (typeof GITHUB_PERMISSIONS)[number];

const Name = (what: string) =>
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, `must be a GitHub ${what} (letters, digits, . _ -)`);

const API_URL_RULE =
  "must be an https:// URL (plain http:// only for loopback), like https://api.github.com or https://ghe.example/api/v3";

const NumericId = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d+$/, "must be a number")
    .transform((text) => Number(text)),
]);

/**
 * A GitHub App private key as people paste it: PKCS#1 (`BEGIN RSA PRIVATE KEY`, as GitHub issues
 * it) or PKCS#8, with real newlines or `\n` escapes (one-line environment variables). Normalised to
 * PKCS#8, which the JWT library needs. The message never quotes the key.
 */
const PrivateKey = z.string().transform((text, ctx) => {
  const pem = text.trim().replace(/\\n/g, "\n");
  try {
    return createPrivateKey(pem).export({ type: "pkcs8", format: "pem" }).toString();
  } catch {
    ctx.addIssue({
      code: "custom",
      message: "must be the App's PEM private key (-----BEGIN RSA PRIVATE KEY-----…), with newlines or \\n",
    });
    return z.NEVER;
  }
});

/**
 * Settings of a `github` resource: team membership (`team`) or repository collaborator
 * (`repository`, with `permission`) in `org`, through a token or a GitHub App installation.
 */
export const GithubSettings = z
  .object({
    org: Name("organisation"),
    team: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,99}$/, "must be a team slug (lower case, like platform-sre)")
      .optional(),
    repository: Name("repository name").optional(),
    permission: z.enum(GITHUB_PERMISSIONS).default("push"),
    apiUrl: z
      .string()
      .refine(isAllowedWebhookUrl, API_URL_RULE)
      .default("https://api.github.com")
      .transform((url) => url.replace(/\/+$/, "")),
    token: z.string().min(1, "must not be empty").optional(),
    app: z.object({ id: NumericId, privateKey: PrivateKey, installationId: NumericId }).strict().optional(),
  })
  .strict()
  .superRefine((settings, ctx) => {
    if ((settings.team === undefined) === (settings.repository === undefined)) {
      ctx.addIssue({ code: "custom", path: ["team"], message: "set exactly one of team or repository" });
    }
    if ((settings.token === undefined) === (settings.app === undefined)) {
      ctx.addIssue({ code: "custom", path: ["token"], message: "set exactly one of token or app" });
    }
  });

export type GithubSettings = z.infer<typeof GithubSettings>;
