/** Policy files used by the integration tests (YAML, as users write them). */
export function policyWith(options: {
  url: string;
  secret?: string;
  requiredApprovals?: number;
  selfApproval?: boolean;
  requestTimeout?: string;
  /** The webhook's timeout (default 1s, short so tests see failures quickly). */
  hookTimeout?: string;
  extra?: string;
}): string {
  const settings = `{ url: "${options.url}", secret: "${options.secret ?? "webhook-secret-0123456789"}", timeout: ${options.hookTimeout ?? "1s"} }`;
  return `
minDuration: 1s
requestTimeout: ${options.requestTimeout ?? "1h"}
admins: [U0ADMIN]
approvalsChannel: C0APPROVALS
audit: { channel: C0AUDIT }
resources:
  - id: deploy-hook
    name: Deploy hook
    provider: webhook
    settings: ${settings}
    maxDuration: 4h
    approvers: { users: [U0LEAD1, U0LEAD2], groups: [S0SRE] }
    requiredApprovals: ${options.requiredApprovals ?? 1}
    selfApproval: ${options.selfApproval ?? false}
  - id: two-keys
    name: Two-person rule
    provider: webhook
    settings: ${settings}
    maxDuration: 1h
    approvers: { users: [U0LEAD1, U0LEAD2] }
    requiredApprovals: 2
${options.extra ?? ""}`;
}
