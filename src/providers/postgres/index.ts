export { isTransientPgError } from "./errors.js";
export type { PostgresProviderOptions } from "./provider.js";
export { PostgresProvider } from "./provider.js";
export { roleNameFor } from "./role-name.js";
export { scramSha256Verifier } from "./scram.js";
export { PostgresSettings } from "./settings.js";
