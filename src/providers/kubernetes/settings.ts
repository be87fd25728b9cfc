import { z } from "zod";

/** Namespaces are RFC 1123 labels. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RBAC object names only have to be valid path segments. */
const isRbacName = (name: string) => name !== "." && name !== ".." && !/[/%]/.test(name);
const PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----";

const SERVER_RULE = "must be an https:// URL without a user name or password";

function isHttpsServer(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "https:" && !url.username && !url.password;
  } catch {
    return false;
  }
}

/** `caData` is written as in a kubeconfig: base64 of the PEM, not the PEM itself. */
function isBase64Pem(text: string): boolean {
  if (!/^[A-Za-z0-9+/=\s]+$/.test(text)) return false;
  return Buffer.from(text, "base64").toString("utf8").includes(PEM_CERTIFICATE);
}

const rbacName = z
  .string()
  .min(1)
  .max(253)
  .refine(isRbacName, "must be a Role or ClusterRole name (no '/', '%', and not '.' or '..')");

/**
 * Settings of a `kubernetes` resource. Where the API server is: `server` + `token` + `caData`
 * together, or `kubeconfig` (a path; its current context is used), or neither (jit runs in the
 * cluster and uses its pod's service account). What a grant gives: exactly one of `role` (a Role in
 * `namespace`) or `clusterRole` (a ClusterRole, bound in `namespace` only). `credentials: true`
 * hands out a service-account kubeconfig instead of binding the person's identity (`identity`
 * names which of the requester's identities is the RBAC user; default `email`).
 */
export const KubernetesSettings = z
  .object({
    namespace: z
      .string()
      .max(63)
      .regex(NAMESPACE, "must be a namespace name (lower-case letters, digits and '-', at most 63)"),
    role: rbacName.optional(),
    clusterRole: rbacName.optional(),
    server: z.string({ error: SERVER_RULE }).refine(isHttpsServer, SERVER_RULE).optional(),
    token: z.string().min(1, "must not be empty").optional(),
    caData: z
      .string()
      .refine(isBase64Pem, "must be the cluster CA as in a kubeconfig: base64 of the PEM certificate")
      .optional(),
    kubeconfig: z.string().min(1, "must be the path of a kubeconfig file").optional(),
    credentials: z.boolean().default(false),
    identity: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_-]*$/, "must be an identity name such as email or kubernetes")
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.role === undefined) === (s.clusterRole === undefined)) {
      ctx.addIssue({ code: "custom", path: ["role"], message: "set exactly one of role or clusterRole" });
    }
    const direct = [s.server, s.token, s.caData].filter((v) => v !== undefined).length;
    if (direct !== 0 && direct !== 3) {
      ctx.addIssue({
        code: "custom",
        path: [s.server === undefined ? "server" : s.token === undefined ? "token" : "caData"],
        message: "server, token and caData go together: set all three, or use kubeconfig",
      });
    }
    if (direct !== 0 && s.kubeconfig !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["kubeconfig"],
        message: "set either kubeconfig or server/token/caData, not both",
      });
    }
    if (s.credentials && s.identity !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["identity"],
        message: "with credentials: true the grant goes to a service account, so no person identity is used",
      });
    }
  });

export type KubernetesSettings = z.infer<typeof KubernetesSettings>;
export type KubernetesSettingsInput = z.input<typeof KubernetesSettings>;
