import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Prometheus metrics of one process; a registry per process keeps tests independent. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "jit_process_" });
  return {
    registry,
    commands: new Counter({
      name: "jit_slash_commands_total",
      help: "Slash commands received, by subcommand",
      labelNames: ["subcommand"] as const,
      registers: [registry],
    }),
    transitions: new Counter({
      name: "jit_request_transitions_total",
      help: "Request state changes, by new state",
      labelNames: ["status"] as const,
      registers: [registry],
    }),
    providerCalls: new Counter({
      name: "jit_provider_calls_total",
      help: "Provider grant/revoke calls, by provider, operation and result",
      labelNames: ["provider", "operation", "result"] as const,
      registers: [registry],
    }),
    revocationLag: new Histogram({
      name: "jit_revocation_lag_seconds",
      help: "Time from a grant's expiry to the provider confirming its revocation",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    activeGrants: new Gauge({
      name: "jit_active_grants",
      help: "Grants active at the last reconciliation",
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
