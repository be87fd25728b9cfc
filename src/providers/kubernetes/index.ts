export { REQUEST_TIMEOUT_MS } from "./client.js";
export { GRANT_ID_KEY, MANAGED_BY_LABEL, objectNameFor } from "./names.js";
export { KubernetesProvider, MIN_TOKEN_SECONDS, tokenSeconds } from "./provider.js";
export { KubernetesSettings } from "./settings.js";
export type { SweepOptions, SweptObject } from "./sweep.js";
export { DEFAULT_SWEEP_MIN_AGE_MS, sweepEndedGrants } from "./sweep.js";
