import { z } from "zod";
import { isAllowedWebhookUrl } from "../webhook/url.js";

/** A 12-digit account id; YAML reads an unquoted one as a number, which loses leading zeros. */
const AccountId = z
  .union([z.string(), z.number().int().nonnegative()])
  .transform((value) => (typeof value === "number" ? String(value).padStart(12, "0") : value))
  .refine((value) => /^\d{12}$/.test(value), 'must be a 12-digit AWS account id (quote it: "012345678901")');

/**
 * Settings of an `aws-sso` resource: which IAM Identity Center instance and identity store, which
 * account and permission set are assigned, the region, an optional endpoint (VPC endpoints, tests),
 * and which of the person's identities names their Identity Center user (`email` by default; it
 * may hold a user name or an e-mail address). Credentials come from the AWS SDK's default chain
 * (environment, web identity, instance or task role), never from the policy file.
 */
export const AwsSsoSettings = z
  .object({
    instanceArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:sso:::instance\/[\w.-]+$/, "must be an Identity Center instance ARN"),
    identityStoreId: z.string().regex(/^[\w-]{1,64}$/, "must be an identity store id like d-1234567890"),
    accountId: AccountId,
    permissionSetArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:sso:::permissionSet\/[\w.-]+\/[\w.-]+$/, "must be a permission set ARN"),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, "must be an AWS region like eu-west-1"),
    endpoint: z
      .string()
      .refine(isAllowedWebhookUrl, "must be an https:// URL (plain http:// only for loopback)")
      .optional(),
    identity: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,31}$/, "must be an identity name like email or aws")
      .default("email"),
  })
  .strict();

export type AwsSsoSettings = z.infer<typeof AwsSsoSettings>;
