import { IdentitystoreClient, paginateListUsers, type User } from "@aws-sdk/client-identitystore";
import {
  CreateAccountAssignmentCommand,
  DeleteAccountAssignmentCommand,
  DescribeAccountAssignmentCreationStatusCommand,
  DescribeAccountAssignmentDeletionStatusCommand,
  DescribePermissionSetCommand,
  paginateListAccountAssignments,
  SSOAdminClient,
  type StatusValues,
} from "@aws-sdk/client-sso-admin";
import type { Holds } from "../holds.js";
import type { AccessProvider, GrantContext, GrantResult, ProviderRuntime } from "../types.js";
import { ProviderError, requireHolds } from "../types.js";
import { awsError } from "./errors.js";
import type { AwsSsoSettings } from "./settings.js";

/** Timings and credentials tests set; production uses the SDK's default chain and these defaults. */
export interface AwsSsoTuning {
  /** Between two status checks of an assignment being created or deleted. Default 2 s. */
  pollMs?: number;
  /** Longest wait for one creation or deletion; then the call fails as transient. Default 5 min. */
  pollTimeoutMs?: number;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * An IAM Identity Center account assignment (a permission set on an account) for the user whose
 * user name or e-mail is the person's identity. An assignment exists once however many grants ask
 * for it, so it goes through the reference counts ({@link Holds}): overlapping grants keep it
 * until the last ends, and an assignment that existed before jit is never deleted. Creation and
 * deletion are asynchronous on AWS: both are polled until SUCCEEDED or FAILED. Throttling is
 * retried by the SDK (its standard retry mode), then by the job layer.
 */
export class AwsSsoProvider implements AccessProvider {
  readonly identityKey: string;
  readonly #settings: AwsSsoSettings;
  readonly #sso: SSOAdminClient;
  readonly #identityStore: IdentitystoreClient;
  readonly #holds: Holds;
  readonly #prefix: string;
  readonly #pollMs: number;
  readonly #pollTimeoutMs: number;

  constructor(settings: AwsSsoSettings, runtime: ProviderRuntime, tuning: AwsSsoTuning = {}) {
    this.#settings = settings;
    this.identityKey = settings.identity;
    const config = {
      region: settings.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(tuning.credentials ? { credentials: tuning.credentials } : {}),
      maxAttempts: 3,
    };
    this.#sso = new SSOAdminClient(config);
    this.#identityStore = new IdentitystoreClient(config);
    this.#holds = requireHolds(runtime, "aws-sso");
    this.#prefix = `aws-sso:${settings.instanceArn}|${settings.accountId}|${settings.permissionSetArn}|`;
    this.#pollMs = tuning.pollMs ?? 2_000;
    this.#pollTimeoutMs = tuning.pollTimeoutMs ?? 5 * 60_000;
  }

  async grant(ctx: GrantContext): Promise<GrantResult> {
    const identity = ctx.identities[this.identityKey];
    if (!identity) {
      throw new ProviderError(
        `${ctx.requester.slackId} has no ${this.identityKey} identity; add identities: { ${ctx.requester.slackId}: { ${this.identityKey}: <user name or e-mail> } } to the policy`,
        false,
      );
    }
    try {
      const user = await this.#findUser(identity);
      await this.#holds.acquire(
        `${this.#prefix}${user.UserId}`,
        ctx.grantId,
        () => this.#assigned(user.UserId as string),
        () => this.#change("create", user.UserId as string),
      );
      return { details: { account: this.#settings.accountId, user: user.UserName ?? identity } };
    } catch (error) {
      throw awsError(`grant to ${identity}`, error);
    }
  }

  async revoke(ctx: GrantContext): Promise<void> {
    try {
      // The user the grant was assigned to, even if the person's identity was edited since.
      for (const target of await this.#holds.heldBy(ctx.grantId, this.#prefix)) {
        const userId = target.slice(this.#prefix.length);
        await this.#holds.release(target, ctx.grantId, async () => {
          if (await this.#assigned(userId)) await this.#change("delete", userId);
        });
      }
    } catch (error) {
      throw awsError("revoke", error);
    }
  }

  async check(): Promise<void> {
    const { instanceArn, permissionSetArn } = this.#settings;
    try {
      await this.#sso.send(
        new DescribePermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: permissionSetArn }),
      );
    } catch (error) {
      throw awsError("cannot see the permission set", error);
    }
  }

  async close(): Promise<void> {
    this.#sso.destroy();
    this.#identityStore.destroy();
  }

  /**
   * The one user whose user name is `identity`, or whose e-mail is (case-insensitive). None, or
   * more than one, is refused: access is never given to a guess.
   */
  async #findUser(identity: string): Promise<User> {
    const IdentityStoreId = this.#settings.identityStoreId;
    const found = new Map<string, User>();
    const byName = paginateListUsers(
      { client: this.#identityStore },
      { IdentityStoreId, Filters: [{ AttributePath: "UserName", AttributeValue: identity }] },
    );
    for await (const page of byName)
      for (const user of page.Users ?? []) found.set(user.UserId as string, user);
    if (identity.includes("@")) {
      // Identity Center cannot filter by e-mail, and e-mails need not be unique: read them all.
      const wanted = identity.toLowerCase();
      for await (const page of paginateListUsers({ client: this.#identityStore }, { IdentityStoreId })) {
        for (const user of page.Users ?? []) {
          if (user.Emails?.some((e) => e.Value?.toLowerCase() === wanted))
            found.set(user.UserId as string, user);
        }
      }
    }
    const users = [...found.values()];
    if (users.length === 1 && users[0]) return users[0];
    const why =
      users.length === 0 ? "no Identity Center user has" : `${users.length} Identity Center users have`;
    throw new ProviderError(`${why} the user name or e-mail ${identity}`, false);
  }

  async #assigned(userId: string): Promise<boolean> {
    const { instanceArn, accountId, permissionSetArn } = this.#settings;
    const pages = paginateListAccountAssignments(
      { client: this.#sso },
      { InstanceArn: instanceArn, AccountId: accountId, PermissionSetArn: permissionSetArn },
    );
    for await (const page of pages) {
      if (page.AccountAssignments?.some((a) => a.PrincipalType === "USER" && a.PrincipalId === userId))
        return true;
    }
    return false;
  }

  /** Starts the creation or deletion, then polls its status until AWS says how it ended. */
  async #change(kind: "create" | "delete", userId: string): Promise<void> {
    const { instanceArn, accountId, permissionSetArn } = this.#settings;
    const assignment = {
      InstanceArn: instanceArn,
      TargetId: accountId,
      TargetType: "AWS_ACCOUNT" as const,
      PermissionSetArn: permissionSetArn,
      PrincipalType: "USER" as const,
      PrincipalId: userId,
    };
    const started =
      kind === "create"
        ? (await this.#sso.send(new CreateAccountAssignmentCommand(assignment)))
            .AccountAssignmentCreationStatus
        : (await this.#sso.send(new DeleteAccountAssignmentCommand(assignment)))
            .AccountAssignmentDeletionStatus;
    let status: { Status?: StatusValues; FailureReason?: string } | undefined = started;
    const requestId = started?.RequestId;
    const deadline = Date.now() + this.#pollTimeoutMs;
    while (status?.Status === "IN_PROGRESS") {
      if (Date.now() > deadline) {
        throw new ProviderError(`the account assignment ${kind} ${requestId} is still in progress`, true);
      }
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
      status =
        kind === "create"
          ? (
              await this.#sso.send(
                new DescribeAccountAssignmentCreationStatusCommand({
                  InstanceArn: instanceArn,
                  AccountAssignmentCreationRequestId: requestId,
                }),
              )
            ).AccountAssignmentCreationStatus
          : (
              await this.#sso.send(
                new DescribeAccountAssignmentDeletionStatusCommand({
                  InstanceArn: instanceArn,
                  AccountAssignmentDeletionRequestId: requestId,
                }),
              )
            ).AccountAssignmentDeletionStatus;
    }
    if (status?.Status !== "SUCCEEDED") {
      throw new ProviderError(
        `the account assignment ${kind} failed: ${status?.FailureReason ?? status?.Status}`,
        false,
      );
    }
  }
}
