import { stringify } from "yaml";
import type { KubernetesApis } from "./client.js";

/**
 * The kubeconfig handed to the grantee with `credentials: true`: the cluster as jit reaches it
 * (server and CA), the service account's token, and the namespace as the default. A secret: it goes
 * into `GrantResult.secrets` only.
 */
export function renderKubeconfig(input: {
  cluster: KubernetesApis["cluster"];
  name: string;
  namespace: string;
  token: string;
}): string {
  const { cluster, name, namespace, token } = input;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name,
        cluster: {
          server: cluster.server,
          ...(cluster.caData ? { "certificate-authority-data": cluster.caData } : {}),
          ...(cluster.tlsServerName ? { "tls-server-name": cluster.tlsServerName } : {}),
          ...(cluster.insecureSkipTlsVerify ? { "insecure-skip-tls-verify": true } : {}),
        },
      },
    ],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace } }],
    "current-context": name,
  });
}
