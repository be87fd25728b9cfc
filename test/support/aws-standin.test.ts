import { GetUserIdCommand, IdentitystoreClient, ListUsersCommand } from "@aws-sdk/client-identitystore";
import {
  CreateAccountAssignmentCommand,
  DeleteAccountAssignmentCommand,
  DescribeAccountAssignmentCreationStatusCommand,
  DescribeAccountAssignmentDeletionStatusCommand,
  DescribePermissionSetCommand,
  ListAccountAssignmentsCommand,
  SSOAdminClient,
} from "@aws-sdk/client-sso-admin";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AwsStandin, startAwsStandin } from "./aws-standin.js";

/** The stand-in checked once with the official AWS SDK v3 clients, used plainly. */
describe("AWS Identity Center stand-in, driven by the official SDK clients", () => {
  let aws: AwsStandin;
  let sso: SSOAdminClient;
  let store: IdentitystoreClient;
  const credentials = { accessKeyId: "AKIDSTANDIN", secretAccessKey: "standin-secret" };

  beforeAll(async () => {
    aws = await startAwsStandin();
    aws.addUser("ada", ["ada@example.com"]);
    const config = { region: "eu-west-1", endpoint: aws.url, credentials, maxAttempts: 1 };
    sso = new SSOAdminClient(config);
    store = new IdentitystoreClient(config);
  });

  afterAll(async () => {
    sso?.destroy();
    store?.destroy();
    await aws?.close();
  });

  it("signs with the sso and identitystore scopes over JSON 1.1", async () => {
    await store.send(new ListUsersCommand({ IdentityStoreId: aws.identityStoreId }));
    await sso.send(
      new DescribePermissionSetCommand({
        InstanceArn: aws.instanceArn,
        PermissionSetArn: aws.permissionSetArn,
      }),
    );
    expect(aws.calls.slice(-2)).toEqual([
      { target: "AWSIdentityStore.ListUsers", scope: "identitystore" },
      { target: "SWBExternalService.DescribePermissionSet", scope: "sso" },
    ]);
  });

  it("finds users by filter and alternate identifier", async () => {
    const listed = await store.send(
      new ListUsersCommand({
        IdentityStoreId: aws.identityStoreId,
        Filters: [{ AttributePath: "UserName", AttributeValue: "ada" }],
      }),
    );
    expect(listed.Users?.map((u) => u.UserName)).toEqual(["ada"]);
    const byEmail = await store.send(
      new GetUserIdCommand({
        IdentityStoreId: aws.identityStoreId,
        AlternateIdentifier: {
          UniqueAttribute: { AttributePath: "emails.value", AttributeValue: "ada@example.com" },
        },
      }),
    );
    expect(byEmail.UserId).toBe(listed.Users?.[0]?.UserId);
  });

  it("creates and deletes an assignment asynchronously, and lists it in between", async () => {
    const userId = aws.users[0]?.UserId;
    const assignment = {
      InstanceArn: aws.instanceArn,
      TargetId: "123456789012",
      TargetType: "AWS_ACCOUNT" as const,
      PermissionSetArn: aws.permissionSetArn,
      PrincipalType: "USER" as const,
      PrincipalId: userId,
    };
    const created = await sso.send(new CreateAccountAssignmentCommand(assignment));
    expect(created.AccountAssignmentCreationStatus?.Status).toBe("IN_PROGRESS");
    const describe = () =>
      sso.send(
        new DescribeAccountAssignmentCreationStatusCommand({
          InstanceArn: aws.instanceArn,
          AccountAssignmentCreationRequestId: created.AccountAssignmentCreationStatus?.RequestId,
        }),
      );
    expect((await describe()).AccountAssignmentCreationStatus?.Status).toBe("IN_PROGRESS");
    expect((await describe()).AccountAssignmentCreationStatus?.Status).toBe("SUCCEEDED");
    const listed = await sso.send(
      new ListAccountAssignmentsCommand({
        InstanceArn: aws.instanceArn,
        AccountId: "123456789012",
        PermissionSetArn: aws.permissionSetArn,
      }),
    );
    expect(listed.AccountAssignments).toEqual([
      {
        AccountId: "123456789012",
        PermissionSetArn: aws.permissionSetArn,
        PrincipalType: "USER",
        PrincipalId: userId,
      },
    ]);
    const deleted = await sso.send(new DeleteAccountAssignmentCommand(assignment));
    const requestId = deleted.AccountAssignmentDeletionStatus?.RequestId;
    for (let i = 0; i < 2; i++) {
      await sso.send(
        new DescribeAccountAssignmentDeletionStatusCommand({
          InstanceArn: aws.instanceArn,
          AccountAssignmentDeletionRequestId: requestId,
        }),
      );
    }
    expect(aws.assignments).toEqual([]);
  });

  it("answers errors as the SDK names them (__type), throttling included", async () => {
    aws.throttleNext = 1;
    await expect(
      store.send(new ListUsersCommand({ IdentityStoreId: aws.identityStoreId })),
    ).rejects.toMatchObject({
      name: "ThrottlingException",
    });
    await expect(store.send(new ListUsersCommand({ IdentityStoreId: "d-0000000000" }))).rejects.toMatchObject(
      {
        name: "ResourceNotFoundException",
        $fault: "client",
      },
    );
  });
});
