/**
 * The reconciler removes kubernetes access that belongs to no live grant (a revoke that never ran)
 * and leaves live grants' bindings alone. Real Bolt, PostgreSQL, Redis, the Slack stand-in and the
 * Kubernetes API stand-in.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { objectNameFor } from "../../src/providers/kubernetes/names.js";
import { grantContext } from "../providers/conformance.js";
import { NAMESPACE, providerFor } from "../providers/kubernetes-fixture.js";
import { type Harness, startHarness } from "../support/harness.js";
import { type KubernetesStandin, startKubernetesStandin } from "../support/kubernetes-standin.js";
import { fileRequest, waitForStatus } from "../support/lifecycle.js";
import { startSlackStandin } from "../support/slack-standin.js";
import { waitFor } from "../support/wait.js";

let h: Harness;
let k8s: KubernetesStandin;

const policy = `
minDuration: 1s
admins: [U0ADMIN]
resources:
  - id: staging-edit
    name: Staging namespace (edit)
    provider: kubernetes
    settings: { namespace: ${NAMESPACE}, clusterRole: edit, server: "\${K8S_SERVER}", token: "\${K8S_TOKEN}", caData: "\${K8S_CA}" }
    maxDuration: 1h
    approvers: { users: [U0LEAD1] }
`;

beforeAll(async () => {
  k8s = await startKubernetesStandin({ namespaces: [NAMESPACE] });
  const standin = await startSlackStandin();
  standin.setUser("U0ALICE", { name: "alice", email: "alice@example.com" });
  h = await startHarness({
    label: "k8s_reconcile",
    policy,
    standin,
    env: { K8S_SERVER: k8s.url, K8S_TOKEN: k8s.adminToken, K8S_CA: k8s.caData },
    tuning: { sweepMinAgeMs: 0 },
  });
});
afterAll(async () => {
  await h?.stop();
  await h?.standin.close();
  await k8s?.close();
});

const bindings = () => k8s.roleBindings(NAMESPACE).map((b) => b.metadata.name);

describe("the reconciler sweeps kubernetes access of ended grants", () => {
  it("deletes a leftover binding jit made for a grant that is not live, and keeps a live one", async () => {
    const id = await fileRequest(h, "U0ALICE", "staging-edit 1h debug the deploy");
    await h.click("U0LEAD1", "jit_approve", id);
    await waitForStatus(h, id, "ACTIVE");
    const live = objectNameFor(id.replace("R-", "G-"));
    expect(bindings()).toContain(live);

    // A binding jit made whose grant jit no longer knows (its revoke never ran).
    await providerFor(k8s).grant(grantContext({ grantId: "G-GONE" }));
    const leftover = objectNameFor("G-GONE");
    expect(bindings()).toContain(leftover);

    await waitFor(() => !bindings().includes(leftover), { timeout: 10_000 });
    expect(bindings()).toContain(live);
  }, 40_000);
});
