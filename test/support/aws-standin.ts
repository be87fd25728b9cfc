import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local AWS IAM Identity Center, over real HTTP, speaking the AWS JSON 1.1 protocol as the SDK
 * does (`POST /`, `X-Amz-Target: SWBExternalService.<Op>` for sso-admin and
 * `AWSIdentityStore.<Op>` for identitystore, SigV4-signed with the `sso` / `identitystore`
 * scopes; errors as `{"__type","message"}`). Account assignments are asynchronous as on AWS: a
 * create or delete answers IN_PROGRESS and finishes after `pollsToFinish` status checks.
 */
export interface StandinUser {
  UserId: string;
  UserName: string;
  Emails?: { Value: string; Primary?: boolean }[];
}

export interface Assignment {
  AccountId: string;
  PermissionSetArn: string;
  PrincipalType: "USER" | "GROUP";
  PrincipalId: string;
}

interface Operation {
  kind: "create" | "delete";
  requestId: string;
  assignment: Assignment;
  polls: number;
  fail?: string;
}

type Answer = { status: number; body: unknown };

export interface AwsStandinOptions {
  identityStoreId?: string;
  instanceArn?: string;
  permissionSetArn?: string;
  users?: StandinUser[];
  /** Status checks an operation stays IN_PROGRESS before it finishes. Default 2. */
  pollsToFinish?: number;
}

export class AwsStandin {
  url = "";
  readonly identityStoreId: string;
  readonly instanceArn: string;
  readonly permissionSetArn: string;
  readonly users: StandinUser[];
  readonly assignments: Assignment[] = [];
  readonly calls: { target: string; scope: string }[] = [];
  pollsToFinish: number;
  /** The next operations answer ThrottlingException this many times. */
  throttleNext = 0;
  /** The next create finishes FAILED with this reason. */
  failNextCreate: string | undefined;
  #down = false;
  readonly #operations = new Map<string, Operation>();
  readonly #server = createServer((req, res) => void this.#handle(req, res));

  constructor(options: AwsStandinOptions = {}) {
    this.identityStoreId = options.identityStoreId ?? "d-1234567890";
    this.instanceArn = options.instanceArn ?? "arn:aws:sso:::instance/ssoins-1111222233334444";
    this.permissionSetArn =
      options.permissionSetArn ?? "arn:aws:sso:::permissionSet/ssoins-1111222233334444/ps-aaaabbbbccccdddd";
    this.users = options.users ?? [];
    this.pollsToFinish = options.pollsToFinish ?? 2;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  setDown(down: boolean): void {
    this.#down = down;
  }

  addUser(userName: string, emails: string[] = []): StandinUser {
    const user = {
      UserId: randomUUID(),
      UserName: userName,
      Emails: emails.map((Value) => ({ Value, Primary: true })),
    };
    this.users.push(user);
    return user;
  }

  hasAssignment(accountId: string, principalId: string, permissionSetArn = this.permissionSetArn): boolean {
    return this.assignments.some(
      (a) =>
        a.AccountId === accountId && a.PrincipalId === principalId && a.PermissionSetArn === permissionSetArn,
    );
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers["x-amz-target"] ?? "");
    const scope =
      /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(String(req.headers.authorization))?.[1] ??
      "";
    this.calls.push({ target, scope });
    const answer = this.#answer(req, target, scope, Buffer.concat(chunks).toString("utf8"));
    res.writeHead(answer.status, {
      "content-type": "application/x-amz-json-1.1",
      "x-amzn-requestid": randomUUID(),
      ...(answer.status >= 400 ? { "x-amzn-errortype": (answer.body as { __type: string }).__type } : {}),
    });
    res.end(JSON.stringify(answer.body));
  }

  #answer(req: IncomingMessage, target: string, scope: string, raw: string): Answer {
    if (this.#down) return error(503, "ServiceUnavailableException", "Service unavailable");
    if (
      req.method !== "POST" ||
      !String(req.headers["content-type"]).startsWith("application/x-amz-json-1.1")
    ) {
      return error(400, "SerializationException", "expected an AWS JSON 1.1 POST");
    }
    const [service, operation] = target.split(".");
    const expectedScope =
      service === "SWBExternalService" ? "sso" : service === "AWSIdentityStore" ? "identitystore" : "";
    if (!expectedScope || !operation)
      return error(400, "UnknownOperationException", `unknown target ${target}`);
    if (scope !== expectedScope)
      return error(403, "InvalidSignatureException", `signed for ${scope}, not ${expectedScope}`);
    if (this.throttleNext > 0) {
      this.throttleNext--;
      return error(400, "ThrottlingException", "Rate exceeded");
    }
    const input = JSON.parse(raw || "{}") as Record<string, unknown>;
    return service === "AWSIdentityStore"
      ? this.#identityStore(operation, input)
      : this.#ssoAdmin(operation, input);
  }

  #identityStore(operation: string, input: Record<string, unknown>): Answer {
    if (input.IdentityStoreId !== this.identityStoreId)
      return error(400, "ResourceNotFoundException", "no such identity store");
    if (operation === "ListUsers") {
      const filters = (input.Filters ?? []) as { AttributePath: string; AttributeValue: string }[];
      const users = this.users.filter((u) =>
        filters.every((f) => f.AttributePath === "UserName" && u.UserName === f.AttributeValue),
      );
      return page(users, input, "Users");
    }
    if (operation === "GetUserId") {
      const unique = (
        input.AlternateIdentifier as { UniqueAttribute?: { AttributePath: string; AttributeValue: string } }
      )?.UniqueAttribute;
      const matches = this.users.filter((u) =>
        unique?.AttributePath === "userName"
          ? u.UserName === unique.AttributeValue
          : unique?.AttributePath === "emails.value" &&
            u.Emails?.some((e) => e.Value === unique.AttributeValue),
      );
      const [user] = matches;
      if (!user) return error(400, "ResourceNotFoundException", "User not found");
      return { status: 200, body: { IdentityStoreId: this.identityStoreId, UserId: user.UserId } };
    }
    return error(400, "UnknownOperationException", operation);
  }

  #ssoAdmin(operation: string, input: Record<string, unknown>): Answer {
    if (input.InstanceArn !== this.instanceArn)
      return error(400, "ResourceNotFoundException", "no such instance");
    switch (operation) {
      case "DescribePermissionSet":
        if (input.PermissionSetArn !== this.permissionSetArn)
          return error(400, "ResourceNotFoundException", "no such permission set");
        return {
          status: 200,
          body: { PermissionSet: { Name: "Dev", PermissionSetArn: this.permissionSetArn } },
        };
      case "ListAccountAssignments": {
        const matching = this.assignments.filter(
          (a) => a.AccountId === input.AccountId && a.PermissionSetArn === input.PermissionSetArn,
        );
        return page(matching, input, "AccountAssignments");
      }
      case "CreateAccountAssignment":
      case "DeleteAccountAssignment":
        return this.#start(operation === "CreateAccountAssignment" ? "create" : "delete", input);
      case "DescribeAccountAssignmentCreationStatus":
        return this.#status("create", String(input.AccountAssignmentCreationRequestId));
      case "DescribeAccountAssignmentDeletionStatus":
        return this.#status("delete", String(input.AccountAssignmentDeletionRequestId));
      default:
        return error(400, "UnknownOperationException", operation);
    }
  }

  #start(kind: "create" | "delete", input: Record<string, unknown>): Answer {
    if (input.TargetType !== "AWS_ACCOUNT" || !/^\d{12}$/.test(String(input.TargetId))) {
      return error(400, "ValidationException", "TargetId must be a 12-digit account id");
    }
    if (input.PermissionSetArn !== this.permissionSetArn)
      return error(400, "ResourceNotFoundException", "no such permission set");
    if (!this.users.some((u) => u.UserId === input.PrincipalId))
      return error(400, "ResourceNotFoundException", "no such principal");
    const assignment: Assignment = {
      AccountId: String(input.TargetId),
      PermissionSetArn: String(input.PermissionSetArn),
      PrincipalType: input.PrincipalType as "USER",
      PrincipalId: String(input.PrincipalId),
    };
    const operation: Operation = { kind, requestId: randomUUID(), assignment, polls: 0 };
    if (kind === "create" && this.failNextCreate) {
      operation.fail = this.failNextCreate;
      this.failNextCreate = undefined;
    }
    this.#operations.set(operation.requestId, operation);
    return { status: 200, body: { [statusKey(kind)]: statusBody(operation, "IN_PROGRESS") } };
  }

  #status(kind: "create" | "delete", requestId: string): Answer {
    const operation = this.#operations.get(requestId);
    if (operation?.kind !== kind) return error(400, "ResourceNotFoundException", "no such request");
    operation.polls++;
    if (operation.polls < this.pollsToFinish) {
      return { status: 200, body: { [statusKey(kind)]: statusBody(operation, "IN_PROGRESS") } };
    }
    if (operation.fail) return { status: 200, body: { [statusKey(kind)]: statusBody(operation, "FAILED") } };
    const at = this.assignments.findIndex(
      (a) =>
        a.AccountId === operation.assignment.AccountId &&
        a.PrincipalId === operation.assignment.PrincipalId &&
        a.PermissionSetArn === operation.assignment.PermissionSetArn,
    );
    if (kind === "create" && at < 0) this.assignments.push(operation.assignment);
    if (kind === "delete" && at >= 0) this.assignments.splice(at, 1);
    return { status: 200, body: { [statusKey(kind)]: statusBody(operation, "SUCCEEDED") } };
  }
}

const statusKey = (kind: "create" | "delete") =>
  kind === "create" ? "AccountAssignmentCreationStatus" : "AccountAssignmentDeletionStatus";

function statusBody(operation: Operation, status: "IN_PROGRESS" | "SUCCEEDED" | "FAILED") {
  return {
    Status: status,
    RequestId: operation.requestId,
    TargetId: operation.assignment.AccountId,
    TargetType: "AWS_ACCOUNT",
    PermissionSetArn: operation.assignment.PermissionSetArn,
    PrincipalType: operation.assignment.PrincipalType,
    PrincipalId: operation.assignment.PrincipalId,
    CreatedDate: Date.now() / 1000,
    ...(status === "FAILED" ? { FailureReason: operation.fail } : {}),
  };
}

/** One page of `items` (MaxResults / NextToken, as the SDK's paginators use them). */
function page<T>(items: T[], input: Record<string, unknown>, key: string): Answer {
  const size = Number(input.MaxResults ?? 50);
  const start = Number(input.NextToken ?? 0);
  const next = start + size < items.length ? String(start + size) : undefined;
  return {
    status: 200,
    body: { [key]: items.slice(start, start + size), ...(next ? { NextToken: next } : {}) },
  };
}

function error(status: number, type: string, message: string): Answer {
  return { status, body: { __type: type, message } };
}

export async function startAwsStandin(options: AwsStandinOptions = {}): Promise<AwsStandin> {
  return new AwsStandin(options).start();
}
