export * from "./postgres/index.js";
export type { ProviderKind, ProviderSettings, ProviderSettingsInput } from "./registry.js";
export { createProvider, isProviderKind, providerKinds } from "./registry.js";
export type { AccessProvider, GrantContext, GrantResult } from "./types.js";
export { ProviderError } from "./types.js";
export * from "./webhook/index.js";
