import { readFileSync } from "node:fs";
import {
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  type Middleware,
  RbacAuthorizationV1Api,
  ServerConfiguration,
} from "@kubernetes/client-node";
import { ProviderError } from "../types.js";
import type { KubernetesSettings } from "./settings.js";

/** One API call may take this long; the job layer owns retries, a call must not hang a worker. */
export const REQUEST_TIMEOUT_MS = 15_000;

/** The API clients of one provider, and what a handed-out kubeconfig needs to reach the cluster. */
export interface KubernetesApis {
  rbac: RbacAuthorizationV1Api;
  core: CoreV1Api;
  cluster: { server: string; caData?: string; tlsServerName?: string; insecureSkipTlsVerify?: boolean };
}

function loadKubeConfig(settings: KubernetesSettings): KubeConfig {
  const kc = new KubeConfig();
  if (settings.server !== undefined) {
    kc.loadFromOptions({
      clusters: [{ name: "jit", server: settings.server, caData: settings.caData, skipTLSVerify: false }],
      users: [{ name: "jit", token: settings.token }],
      contexts: [{ name: "jit", cluster: "jit", user: "jit" }],
      currentContext: "jit",
    });
  } else if (settings.kubeconfig !== undefined) {
    kc.loadFromFile(settings.kubeconfig);
  } else {
    if (!process.env.KUBERNETES_SERVICE_HOST) {
      throw new Error("jit is not running in a cluster: set server, token and caData, or kubeconfig");
    }
    // Reads the pod's service account token file on every call, so rotated tokens are picked up.
    kc.loadFromCluster();
  }
  return kc;
}

const timeout: Middleware = {
  pre: async (context) => {
    context.setSignal(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    return context;
  },
  post: async (response) => response,
};

/**
 * Builds the clients from the settings: inline `server`/`token`/`caData`, a kubeconfig file's
 * current context, or the pod's in-cluster service account. Throws a permanent
 * {@link ProviderError} when that configuration cannot be loaded (no such file, no current
 * context, not in a cluster); it never quotes the token.
 */
export function kubernetesApis(settings: KubernetesSettings): KubernetesApis {
  let kc: KubeConfig;
  let caData: string | undefined;
  try {
    kc = loadKubeConfig(settings);
    const current = kc.getCurrentCluster();
    caData =
      current?.caData ?? (current?.caFile ? readFileSync(current.caFile).toString("base64") : undefined);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ProviderError(`kubernetes: cannot load the cluster configuration: ${reason}`, false);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new ProviderError("kubernetes: the kubeconfig has no current context or cluster", false);
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [timeout],
  });
  return {
    rbac: new RbacAuthorizationV1Api(configuration),
    core: new CoreV1Api(configuration),
    cluster: {
      server: cluster.server,
      caData,
      tlsServerName: cluster.tlsServerName,
      insecureSkipTlsVerify: cluster.skipTLSVerify || undefined,
    },
  };
}
