import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsSsoProvider, type AwsSsoTuning } from "../../src/providers/aws-sso/provider.js";
import { AwsSsoSettings } from "../../src/providers/aws-sso/settings.js";
import { ProviderError } from "../../src/providers/types.js";
import { type AwsStandin, startAwsStandin } from "../support/aws-standin.js";
import { type HoldsDb, startHoldsDb } from "../support/holds-db.js";
import { grantContext, providerConformance } from "./conformance.js";

const ACCOUNT = "123456789012";
const FAST: AwsSsoTuning = {
  pollMs: 5,
  credentials: { accessKeyId: "AKIDSTANDIN", secretAccessKey: "standin-secret" },
};

let db: HoldsDb;

beforeAll(async () => {
  db = await startHoldsDb("aws_sso");
});

afterAll(async () => {
  await db?.close();
});

function provider(aws: AwsStandin, overrides: Record<string, unknown> = {}, tuning = FAST) {
  const settings = AwsSsoSettings.parse({
    instanceArn: aws.instanceArn,
    identityStoreId: aws.identityStoreId,
    accountId: ACCOUNT,
    permissionSetArn: aws.permissionSetArn,
    region: "eu-west-1",
    endpoint: aws.url,
    ...overrides,
  });
  return new AwsSsoProvider(settings, { holds: db.holds }, tuning);
}

async function failureOf(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

providerConformance("aws-sso", async () => {
  const aws = await startAwsStandin();
  const ada = aws.addUser("ada", ["ada@example.com"]);
  const p = provider(aws);
  return {
    provider: p,
    sharedAccess: true,
    hasAccess: async () => aws.hasAssignment(ACCOUNT, ada.UserId),
    breakProvider: () => aws.setDown(true),
    breakPermanently: () => provider(aws, { permissionSetArn: `${aws.permissionSetArn}x` }),
    restoreProvider: () => aws.setDown(false),
    async cleanup() {
      await p.close();
      await aws.close();
    },
  };
});

describe("aws-sso provider against the Identity Center stand-in", () => {
  let aws: AwsStandin;

  beforeAll(async () => {
    aws = await startAwsStandin();
  });

  afterAll(async () => {
    await aws?.close();
  });

  it("finds the user by user name through a chosen identity, and polls creation and deletion to the end", async () => {
    const grace = aws.addUser("grace.h", ["grace@example.com"]);
    aws.pollsToFinish = 3;
    const p = provider(aws, { identity: "aws" });
    expect(p.identityKey).toBe("aws");
    const ctx = grantContext({ identities: { email: "someone@else.test", aws: "grace.h" } });
    const result = await p.grant(ctx);
    expect(result.details).toEqual({ account: ACCOUNT, user: "grace.h" });
    expect(aws.hasAssignment(ACCOUNT, grace.UserId)).toBe(true);
    const polls = aws.calls.filter((c) =>
      c.target.endsWith("DescribeAccountAssignmentCreationStatus"),
    ).length;
    expect(polls).toBe(3);
    await p.revoke(ctx);
    expect(aws.hasAssignment(ACCOUNT, grace.UserId)).toBe(false);
    aws.pollsToFinish = 2;
  });

  it("finds the user by e-mail, whatever its case", async () => {
    const lin = aws.addUser("lin", ["Lin@Example.com"]);
    const p = provider(aws);
    const ctx = grantContext({ identities: { email: "lin@example.com" } });
    await p.grant(ctx);
    expect(aws.hasAssignment(ACCOUNT, lin.UserId)).toBe(true);
    await p.revoke(ctx);
  });

  it("refuses an e-mail that matches two users, and one that matches none, changing nothing", async () => {
    aws.addUser("twin1", ["twin@example.com"]);
    aws.addUser("twin2", ["twin@example.com"]);
    const before = aws.assignments.length;
    const two = await failureOf(
      provider(aws).grant(grantContext({ identities: { email: "twin@example.com" } })),
    );
    expect(two.message).toContain("2 Identity Center users have the user name or e-mail twin@example.com");
    expect(two.transient).toBe(false);
    const none = await failureOf(
      provider(aws).grant(grantContext({ identities: { email: "nobody@example.com" } })),
    );
    expect(none.message).toContain("no Identity Center user has");
    expect(aws.assignments.length).toBe(before);
  });

  it("an assignment that existed before jit is never deleted", async () => {
    const kim = aws.addUser("kim", ["kim@example.com"]);
    aws.assignments.push({
      AccountId: ACCOUNT,
      PermissionSetArn: aws.permissionSetArn,
      PrincipalType: "USER",
      PrincipalId: kim.UserId,
    });
    const p = provider(aws);
    const ctx = grantContext({ identities: { email: "kim@example.com" } });
    const writes = () => aws.calls.filter((c) => /(Create|Delete)AccountAssignment$/.test(c.target)).length;
    const before = writes();
    await p.grant(ctx);
    await p.revoke(ctx);
    expect(aws.hasAssignment(ACCOUNT, kim.UserId)).toBe(true);
    expect(writes()).toBe(before);
  });

  it("retries throttling through the SDK; a FAILED creation is a permanent failure with AWS's reason", async () => {
    const sam = aws.addUser("sam", ["sam@example.com"]);
    const p = provider(aws);
    aws.throttleNext = 2;
    const ctx = grantContext({ identities: { email: "sam@example.com" } });
    await p.grant(ctx);
    expect(aws.hasAssignment(ACCOUNT, sam.UserId)).toBe(true);
    await p.revoke(ctx);
    aws.failNextCreate = "Received a 404 status error: Not supported account.";
    const failed = await failureOf(p.grant(grantContext({ identities: { email: "sam@example.com" } })));
    expect(failed.transient).toBe(false);
    expect(failed.message).toContain("the account assignment create failed: Received a 404 status error");
  });

  it("a creation still in progress at the deadline is a transient failure", async () => {
    aws.addUser("slow", ["slow@example.com"]);
    aws.pollsToFinish = 1_000;
    try {
      const p = provider(aws, {}, { ...FAST, pollTimeoutMs: 50 });
      const error = await failureOf(p.grant(grantContext({ identities: { email: "slow@example.com" } })));
      expect(error.transient).toBe(true);
      expect(error.message).toMatch(/still in progress/);
    } finally {
      aws.pollsToFinish = 2;
    }
  });
});

describe("aws-sso settings", () => {
  const base = {
    instanceArn: "arn:aws:sso:::instance/ssoins-1111222233334444",
    identityStoreId: "d-1234567890",
    permissionSetArn: "arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-aaaabbbbccccdddd",
    region: "eu-west-1",
  };

  it("reads an unquoted account id without losing its leading zeros; defaults the identity to email", () => {
    const parsed = AwsSsoSettings.parse({ ...base, accountId: 12345678901 });
    expect(parsed.accountId).toBe("012345678901");
    expect(parsed.identity).toBe("email");
  });

  it("names what is wrong", () => {
    const parsed = AwsSsoSettings.safeParse({
      ...base,
      accountId: "1234",
      region: "Ireland",
      endpoint: "http://sso.example",
    });
    const found = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(found).toEqual([
      'accountId: must be a 12-digit AWS account id (quote it: "012345678901")',
      "region: must be an AWS region like eu-west-1",
      "endpoint: must be an https:// URL (plain http:// only for loopback)",
    ]);
  });
});
