import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/env.js";
import { parsePolicy } from "../../src/config/load-policy.js";
import { marksFor, objectNameFor } from "../../src/providers/kubernetes/names.js";
import { tokenSeconds } from "../../src/providers/kubernetes/provider.js";
import { KubernetesSettings } from "../../src/providers/kubernetes/settings.js";

const CA = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");
const INLINE = {
  namespace: "staging",
  clusterRole: "edit",
  server: "https://k8s.example:6443",
  token: "t0k3n",
  caData: CA,
};

/** The messages zod reports, as `path: message`. */
function problems(input: unknown): string[] {
  const result = KubernetesSettings.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("kubernetes settings", () => {
  it("accepts inline server/token/caData, a kubeconfig path, or nothing (in-cluster), with credentials off by default", () => {
    expect(KubernetesSettings.parse(INLINE)).toEqual({ ...INLINE, credentials: false });
    expect(problems({ namespace: "dev", role: "deployer", kubeconfig: "/etc/jit/kubeconfig" })).toEqual([]);
    expect(problems({ namespace: "dev", role: "deployer", credentials: true })).toEqual([]);
    expect(problems({ ...INLINE, identity: "kubernetes" })).toEqual([]);
  });

  it("wants exactly one of role or clusterRole", () => {
    expect(problems({ namespace: "dev" })).toEqual(["role: set exactly one of role or clusterRole"]);
    expect(problems({ namespace: "dev", role: "a", clusterRole: "b" })).toEqual([
      "role: set exactly one of role or clusterRole",
    ]);
  });

  it("wants server, token and caData together, and not with kubeconfig", () => {
    const { caData: _, ...noCa } = INLINE;
    expect(problems(noCa)).toEqual([
      "caData: server, token and caData go together: set all three, or use kubeconfig",
    ]);
    expect(problems({ ...INLINE, kubeconfig: "/k" })).toEqual([
      "kubeconfig: set either kubeconfig or server/token/caData, not both",
    ]);
  });

  it("refuses plain http, user info in the server URL, and a PEM pasted without base64", () => {
    expect(problems({ ...INLINE, server: "http://127.0.0.1:8080" })).toEqual([
      "server: must be an https:// URL without a user name or password",
    ]);
    expect(problems({ ...INLINE, server: "https://u:p@k8s.example" })).toHaveLength(1);
    expect(problems({ ...INLINE, caData: "-----BEGIN CERTIFICATE-----\nMIIB" })).toEqual([
      "caData: must be the cluster CA as in a kubeconfig: base64 of the PEM certificate",
    ]);
  });

  it("refuses unknown keys, bad names, and an identity with credentials: true", () => {
    expect(problems({ ...INLINE, nameSpace: "x" })[0]).toContain("nameSpace");
    expect(problems({ ...INLINE, namespace: "Staging" })[0]).toContain("namespace: must be a namespace name");
    expect(problems({ ...INLINE, clusterRole: "a/b" })[0]).toContain(
      "clusterRole: must be a Role or ClusterRole name",
    );
    expect(problems({ ...INLINE, credentials: true, identity: "email" })).toEqual([
      "identity: with credentials: true the grant goes to a service account, so no person identity is used",
    ]);
  });

  it("never quotes the token in its messages", () => {
    const secret = "super-secret-token-value";
    expect(problems({ ...INLINE, token: secret, server: "nope" }).join("\n")).not.toContain(secret);
  });
});

describe("kubernetes resources in a policy file", () => {
  const policy = (settings: string) => `
resources:
  - id: staging-edit
    name: Staging edit
    provider: kubernetes
    settings: ${settings}
    maxDuration: 4h
    approvers: { users: [U0LEAD1] }
`;

  it("are accepted with their settings validated (token from the environment)", () => {
    const parsed = parsePolicy(
      policy(
        `{ namespace: staging, clusterRole: edit, server: "https://k8s.example", token: "\${K8S_TOKEN}", caData: "${CA}" }`,
      ),
      { K8S_TOKEN: "t0k3n-from-env" },
    );
    expect(parsed.resources[0]?.settings).toMatchObject({
      namespace: "staging",
      token: "t0k3n-from-env",
    });
  });

  it("are refused with a message naming the key path and never the token", () => {
    const error = (() => {
      try {
        parsePolicy(
          policy(
            `{ namespace: staging, role: a, clusterRole: b, server: "https://k8s.example", token: never-shown-token, caData: "${CA}" }`,
          ),
          {},
        );
      } catch (e) {
        return e;
      }
      throw new Error("the policy was accepted");
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      "resources[0].settings.role: set exactly one of role or clusterRole",
    ]);
    expect((error as ConfigError).message).not.toContain("never-shown-token");
  });
});

describe("kubernetes object names", () => {
  it("are jit-<grant id in lower case> for jit's own ids", () => {
    expect(objectNameFor("G-7KQ2")).toBe("jit-g-7kq2");
  });

  it("are valid service account names, distinct for distinct ids, whatever the id holds", () => {
    const names = ["g_ABC", "g-abc", "G ABC", "__"].map(objectNameFor);
    for (const name of names) expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(new Set(names).size).toBe(names.length);
  });

  it("carry the exact grant id as an annotation, and as a label only when it is a valid label value", () => {
    expect(marksFor({ grantId: "G-1", requestId: "R-1", resource: "r" }).labels["jit/grant-id"]).toBe("G-1");
    const odd = marksFor({ grantId: "G 1", requestId: "R-1", resource: "r" });
    expect(odd.labels["jit/grant-id"]).toBeUndefined();
    expect(odd.annotations["jit/grant-id"]).toBe("G 1");
  });
});

describe("token lifetime", () => {
  it("is the time left in the grant, rounded up, and never under 600 s", () => {
    const now = Date.parse("2030-01-01T00:00:00Z");
    expect(tokenSeconds(new Date(now + 3600_500), now)).toBe(3601);
    expect(tokenSeconds(new Date(now + 60_000), now)).toBe(600);
    expect(tokenSeconds(new Date(now - 60_000), now)).toBe(600);
  });
});
