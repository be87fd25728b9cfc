import { z } from "zod";
import { parseDuration } from "../domain/duration.js";
import { isProviderKind, type ProviderKind, providerKinds } from "../providers/registry.js";
import { cronProblem, timeZoneProblem } from "./schedule.js";

const DURATION_HINT = "must be a duration like 30m, 2h, 1d";

/** A duration written as text in the policy file, parsed to seconds. */
const Duration = z.string({ error: DURATION_HINT }).transform((text, ctx) => {
  const parsed = parseDuration(text);
  if (parsed.ok) return parsed.seconds;
  ctx.addIssue({ code: "custom", message: DURATION_HINT });
  return z.NEVER;
});

const SlackUserId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, "must be a Slack user id like U0123ABCD");
const SlackGroupId = z.string().regex(/^S[A-Z0-9]{2,}$/, "must be a Slack user group id like S0123ABCD");
const SlackChannelId = z.string().regex(/^[CGD][A-Z0-9]{2,}$/, "must be a Slack channel id like C0123ABCD");

const Principals = z
  .object({ users: z.array(SlackUserId).default([]), groups: z.array(SlackGroupId).default([]) })
  .strict();

/**
 * Who each person is in the providers' worlds: Slack user id → identity name → value, e.g.
 * `U0LEAD1: { github: octocat, email: lead1@acme.test }`. A provider names the identity it needs
 * (github: `github`; aws-sso and kubernetes: `email` by default); `email` defaults to the Slack
 * profile's e-mail, so it is only listed to override it.
 */
/** zod reports a bad record key as "Invalid key in record"; say what the key must be instead. */
const keyMessage = (message: string) => ({
  error: (issue: { code?: string }) => (issue.code === "invalid_key" ? message : undefined),
});

const Identities = z.record(
  SlackUserId,
  z.record(
    z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/),
    z.string().trim().min(1, "must not be empty").max(256),
    keyMessage("must be an identity name like github, email or aws"),
  ),
  keyMessage("must be a Slack user id like U0123ABCD"),
);

const providerNames = Object.keys(providerKinds) as [ProviderKind, ...ProviderKind[]];

function hasKnownProvider(value: unknown): boolean {
  if (!value || typeof value !== "object") return false;
  const { provider, settings } = value as { provider?: unknown; settings?: unknown };
  return (
    typeof provider === "string" &&
    isProviderKind(provider) &&
    typeof settings === "object" &&
    settings !== null &&
    !Array.isArray(settings)
  );
}

const Resource = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "must be lower-case letters, digits, . _ or -"),
    name: z.string().min(1).max(200),
    provider: z.enum(providerNames, { error: `must be one of ${providerNames.join(", ")}` }),
    settings: z.record(z.string(), z.unknown()),
    maxDuration: Duration,
    requesters: Principals.optional(),
    approvers: Principals,
    requiredApprovals: z.number().int().min(1).default(1),
    selfApproval: z.boolean().default(false),
    breakglass: z.boolean().default(false),
    /** Approved extensions one grant may take (src/app/extend.ts). */
    maxExtensions: z.number().int().min(0).default(3),
    /** Remind approvers who have not voted after this, then after twice as long, … (default off). */
    remindApprovers: Duration.optional(),
  })
  .strict()
  .superRefine(
    (resource, ctx) => {
      const settings = providerKinds[resource.provider].settings.safeParse(resource.settings);
      if (!settings.success) {
        for (const issue of settings.error.issues) {
          // Kept whole (code included), so an unknown key reads the same here as anywhere else.
          ctx.addIssue({ ...issue, path: ["settings", ...issue.path] });
        }
      }
    },
    // Also when another key of the resource is wrong, so one check lists every problem.
    { when: (payload) => hasKnownProvider(payload.value) },
  )
  .superRefine((resource, ctx) => {
    if (resource.approvers.users.length + resource.approvers.groups.length === 0) {
      ctx.addIssue({ code: "custom", path: ["approvers"], message: "needs at least one user or group" });
    }
    const unreachable = unreachableApprovals(resource);
    if (unreachable) ctx.addIssue({ code: "custom", path: ["requiredApprovals"], message: unreachable });
  });

/**
 * Why `requiredApprovals` can never be reached, or null. Only decidable offline when the approvers
 * are users alone (group members are known only to Slack). A requester never counts towards their
 * own request unless selfApproval, so a listed requester who is also an approver leaves one fewer;
 * with requesters open to anyone (or to groups) nobody in particular can be named, so that case
 * is not flagged here.
 */
export function unreachableApprovals(resource: {
  approvers: { users: string[]; groups: string[] };
  requesters?: { users: string[]; groups: string[] } | undefined;
  requiredApprovals: number;
  selfApproval: boolean;
}): string | null {
  const { approvers, requesters, requiredApprovals: needed } = resource;
  if (approvers.groups.length > 0 || approvers.users.length === 0) return null;
  const distinct = new Set(approvers.users);
  if (needed > distinct.size) {
    return `is ${needed} but only ${distinct.size} distinct approver(s) are listed`;
  }
  const namedRequesters = requesters && requesters.groups.length === 0 ? requesters.users : [];
  const stuck = resource.selfApproval ? [] : [...new Set(namedRequesters)].filter((u) => distinct.has(u));
  if (stuck.length > 0 && needed > distinct.size - 1) {
    return (
      `is ${needed} but a request by ${stuck.join(", ")} (a requester who is also an approver, ` +
      `and cannot approve their own request unless selfApproval is true) can get at most ${distinct.size - 1}`
    );
  }
  return null;
}

export const PolicySchema = z
  .object({
    minDuration: Duration.default(60),
    requestTimeout: Duration.default(3600),
    /** An approved request not granted within this ends FAILED; access never starts late. */
    grantTimeout: Duration.default(600),
    admins: z.array(SlackUserId).default([]),
    /** Pending requests one person may have at once: each one DMs every approver. */
    maxPendingPerUser: z.number().int().min(1).default(5),
    approvalsChannel: SlackChannelId.optional(),
    audit: z
      .object({
        channel: SlackChannelId.optional(),
        schedule: z
          .string()
          .min(1)
          .superRefine((pattern, ctx) => {
            const problem = cronProblem(pattern);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
          })
          .optional(),
        timezone: z
          .string()
          .superRefine((zone, ctx) => {
            const problem = timeZoneProblem(zone);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
          })
          .default("UTC"),
      })
      .strict()
      .default({ timezone: "UTC" }),
    /** The grantee's DM with an Extend button comes this long before expiry (grants ≥ twice as long). */
    reminders: z
      .object({ beforeExpiry: Duration.default(600) })
      .strict()
      .default({ beforeExpiry: 600 }),
    /** A break-glass grant nobody has reviewed after this long is alerted again. */
    breakglassReview: Duration.default(86_400),
    resources: z.array(Resource).min(1, "must list at least one resource"),
    identities: Identities.default({}),
  })
  .strict()
  .superRefine(
    (policy, ctx) => {
      // Runs even when other parts are invalid (see `when`), so fields may hold unparsed input.
      const seen = new Set<string>();
      policy.resources.forEach((resource, index) => {
        if (typeof resource?.id !== "string") return;
        if (seen.has(resource.id)) {
          ctx.addIssue({
            code: "custom",
            path: ["resources", index, "id"],
            message: `"${resource.id}" is used twice`,
          });
        }
        seen.add(resource.id);
        if (
          typeof resource.maxDuration === "number" &&
          typeof policy.minDuration === "number" &&
          resource.maxDuration < policy.minDuration
        ) {
          ctx.addIssue({
            code: "custom",
            path: ["resources", index, "maxDuration"],
            message: "is shorter than minDuration",
          });
        }
      });
    },
    { when: (payload) => Array.isArray((payload.value as { resources?: unknown } | null)?.resources) },
  );

export type Policy = z.infer<typeof PolicySchema>;
export type Resource = Policy["resources"][number];
