// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the policy file's own syntax, not a template.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "./env.js";
import { formatPath, loadPolicy, parsePolicy } from "./load-policy.js";

/** The policy file example of the contract, verbatim. */
const CONTRACT_EXAMPLE = `minDuration: 1m            # default 1m; any duration, seconds included
requestTimeout: 1h         # pending requests expire after this; default 1h
admins: [U0ADMIN]          # may revoke any grant and read audits
approvalsChannel: C0APPROVALS   # optional
audit:
  channel: C0AUDIT         # alerts and summaries
  schedule: "0 9 * * 1-5"  # optional cron for the summary post
  timezone: UTC
resources:
  - id: staging-db
    name: Staging database (read/write)
    provider: postgres
    settings: { url: "\${STAGING_DB_ADMIN_URL}", roles: [app_readwrite] }
    maxDuration: 4h
    requesters: { users: [], groups: [] }   # optional; default: anyone
    approvers: { users: [U0LEAD1, U0LEAD2], groups: [S0SRE] }   # groups = Slack user group ids
    requiredApprovals: 1   # default 1
    selfApproval: false    # default false
    breakglass: false      # default false
  - id: deploy-hook
    name: Production deploy hook
    provider: webhook
    settings: { url: "https://deploy.internal/jit", secret: "\${DEPLOY_HOOK_SECRET}" }
    maxDuration: 30m
    approvers: { users: [U0LEAD1] }
`;

const CONTRACT_ENV = {
  STAGING_DB_ADMIN_URL: "postgresql://admin:pw@staging-db:5432/app",
  DEPLOY_HOOK_SECRET: "a-long-enough-shared-secret",
};

/** One webhook resource with overridable lines, indented as an item of `resources:`. */
function resource(id: string, extraLines: string[] = [], overrides: Record<string, string> = {}): string {
  const lines = {
    id,
    name: `Resource ${id}`,
    provider: "webhook",
    settings: '{ url: "https://hooks.example.com/jit", secret: "0123456789abcdef" }',
    maxDuration: "1h",
    approvers: "{ users: [U0LEAD1] }",
    ...overrides,
  };
  const body = [...Object.entries(lines).map(([k, v]) => `${k}: ${v}`), ...extraLines];
  return body.map((line, i) => `${i === 0 ? "  - " : "    "}${line}`).join("\n");
}

function policy(...resources: string[]): string {
  return `resources:\n${resources.join("\n")}\n`;
}

/** The problems parsePolicy reports; fails the test when the text is accepted. */
function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parsePolicy(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("parsePolicy accepted an invalid policy");
}

describe("parsePolicy: valid files", () => {
  it("parses the contract's example, reading ${VAR} from the environment", () => {
    const parsed = parsePolicy(CONTRACT_EXAMPLE, CONTRACT_ENV);
    expect(parsed).toEqual({
      minDuration: 60,
      requestTimeout: 3600,
      grantTimeout: 600,
      admins: ["U0ADMIN"],
      maxPendingPerUser: 5,
      approvalsChannel: "C0APPROVALS",
      audit: { channel: "C0AUDIT", schedule: "0 9 * * 1-5", timezone: "UTC" },
      reminders: { beforeExpiry: 600 },
      breakglassReview: 86_400,
      resources: [
        {
          id: "staging-db",
          name: "Staging database (read/write)",
          provider: "postgres",
          settings: { url: "postgresql://admin:pw@staging-db:5432/app", roles: ["app_readwrite"] },
          maxDuration: 4 * 3600,
          requesters: { users: [], groups: [] },
          approvers: { users: ["U0LEAD1", "U0LEAD2"], groups: ["S0SRE"] },
          requiredApprovals: 1,
          selfApproval: false,
          breakglass: false,
          maxExtensions: 3,
        },
        {
          id: "deploy-hook",
          name: "Production deploy hook",
          provider: "webhook",
          settings: { url: "https://deploy.internal/jit", secret: "a-long-enough-shared-secret" },
          maxDuration: 30 * 60,
          approvers: { users: ["U0LEAD1"], groups: [] },
          requiredApprovals: 1,
          selfApproval: false,
          breakglass: false,
          maxExtensions: 3,
        },
      ],
      identities: {},
    });
  });

  it("applies the defaults", () => {
    const parsed = parsePolicy(policy(resource("a")), {});
    expect(parsed.minDuration).toBe(60);
    expect(parsed.requestTimeout).toBe(3600);
    expect(parsed.admins).toEqual([]);
    expect(parsed.maxPendingPerUser).toBe(5);
    expect(parsed.approvalsChannel).toBeUndefined();
    expect(parsed.audit).toEqual({ timezone: "UTC" });
    const [only] = parsed.resources;
    expect(only?.requiredApprovals).toBe(1);
    expect(only?.selfApproval).toBe(false);
    expect(only?.breakglass).toBe(false);
    expect(only?.maxExtensions).toBe(3);
    expect(parsed.reminders).toEqual({ beforeExpiry: 600 });
    expect(parsed.breakglassReview).toBe(86_400);
    expect(only?.requesters).toBeUndefined();
    expect(only?.approvers).toEqual({ users: ["U0LEAD1"], groups: [] });
  });

  it("reads durations with seconds and compound units", () => {
    const parsed = parsePolicy(
      `minDuration: 90s\nrequestTimeout: 1h30m\n${policy(resource("a", [], { maxDuration: "1d" }))}`,
      {},
    );
    expect(parsed.minDuration).toBe(90);
    expect(parsed.requestTimeout).toBe(5400);
    expect(parsed.resources[0]?.maxDuration).toBe(86_400);
  });

  it("allows requiredApprovals above the listed users when groups can supply approvers", () => {
    const parsed = parsePolicy(
      policy(resource("a", ["requiredApprovals: 3"], { approvers: "{ users: [U0LEAD1], groups: [S0SRE] }" })),
      {},
    );
    expect(parsed.resources[0]?.requiredApprovals).toBe(3);
  });
});

describe("parsePolicy: problems, each with its path", () => {
  it("names unknown keys at the top level, in audit and inside resources", () => {
    expect(
      problemsOf(
        `colour: blue\naudit: { channel: C0AUDIT, when: daily }\n${policy(
          resource("a"),
          resource("b", ["foo: 1", "bar: 2"]),
        )}`,
      ),
    ).toEqual([
      'audit: unknown key(s) "when"',
      'resources[1]: unknown key(s) "foo", "bar"',
      'unknown key(s) "colour"',
    ]);
  });

  it("names unknown keys inside approvers and provider settings", () => {
    expect(
      problemsOf(
        policy(
          resource("a", [], {
            approvers: "{ users: [U0LEAD1], teams: [T0X] }",
            settings: '{ url: "https://h/x", secret: "0123456789abcdef", retries: 3 }',
          }),
        ),
      ),
    ).toEqual([
      'resources[0].approvers: unknown key(s) "teams"',
      'resources[0].settings: unknown key(s) "retries"',
    ]);
  });

  it("rejects a malformed duration with a hint", () => {
    expect(problemsOf(policy(resource("a"), resource("b", [], { maxDuration: "4 hours" })))).toEqual([
      "resources[1].maxDuration: must be a duration like 30m, 2h, 1d",
    ]);
    // A bare YAML number is not a duration either (seconds? minutes?).
    expect(problemsOf(`minDuration: 60\n${policy(resource("a"))}`)).toEqual([
      "minDuration: must be a duration like 30m, 2h, 1d",
    ]);
  });

  it("rejects an unknown provider, listing the known ones", () => {
    expect(problemsOf(policy(resource("a", [], { provider: "ldap" })))).toEqual([
      "resources[0].provider: must be one of postgres, webhook, github, aws-sso, kubernetes",
    ]);
  });

  it("validates provider settings with the provider's schema, at their path", () => {
    expect(
      problemsOf(
        policy(
          resource("a", [], { settings: '{ url: "ftp://files", secret: "short" }' }),
          resource("b", [], {
            provider: "postgres",
            settings: '{ url: "https://not-postgres", roles: [app] }',
          }),
        ),
      ),
    ).toEqual([
      "resources[0].settings.url: must be an https:// URL (plain http:// only for loopback: 127.0.0.0/8, ::1, localhost), without a user name or password",
      "resources[0].settings.secret: must be at least 16 characters",
      "resources[1].settings.url: must be a postgres:// or postgresql:// URL",
    ]);
  });

  it("validates provider settings even when another key of the resource is wrong", () => {
    expect(
      problemsOf(
        policy(
          resource("a", ["requiredApprovals: two"], {
            settings: '{ url: "ftp://x", secret: "0123456789abcdef" }',
          }),
        ),
      ),
    ).toEqual([
      "resources[0].requiredApprovals: Invalid input: expected number, received string",
      "resources[0].settings.url: must be an https:// URL (plain http:// only for loopback: 127.0.0.0/8, ::1, localhost), without a user name or password",
    ]);
  });

  it("rejects duplicate resource ids, naming the second", () => {
    expect(problemsOf(policy(resource("db"), resource("hook"), resource("db")))).toEqual([
      'resources[2].id: "db" is used twice',
    ]);
  });

  it("reports duplicate ids even when another resource has a type error", () => {
    expect(problemsOf(policy(resource("db"), resource("db"), resource("x", ["breakglass: maybe"])))).toEqual([
      "resources[2].breakglass: Invalid input: expected boolean, received string",
      'resources[1].id: "db" is used twice',
    ]);
  });

  it("rejects requiredApprovals larger than the approvers listed when there are no groups", () => {
    expect(
      problemsOf(
        policy(resource("a", ["requiredApprovals: 3"], { approvers: "{ users: [U0LEAD1, U0LEAD2] }" })),
      ),
    ).toEqual(["resources[0].requiredApprovals: is 3 but only 2 distinct approver(s) are listed"]);
  });

  it("counts an approver listed twice once", () => {
    expect(
      problemsOf(
        policy(resource("a", ["requiredApprovals: 2"], { approvers: "{ users: [U0LEAD1, U0LEAD1] }" })),
      ),
    ).toEqual(["resources[0].requiredApprovals: is 2 but only 1 distinct approver(s) are listed"]);
  });

  it("rejects requiredApprovals that a listed requester who is also an approver can never reach", () => {
    const twoKeys = (extra: string[] = []) =>
      policy(
        resource("a", ["requiredApprovals: 2", "requesters: { users: [U0DEV, U0LEAD1] }", ...extra], {
          approvers: "{ users: [U0LEAD1, U0LEAD2] }",
        }),
      );
    expect(problemsOf(twoKeys())).toEqual([
      "resources[0].requiredApprovals: is 2 but a request by U0LEAD1 (a requester who is also an approver, " +
        "and cannot approve their own request unless selfApproval is true) can get at most 1",
    ]);
    // With selfApproval the requester's own vote counts, so two approvals are reachable.
    expect(parsePolicy(twoKeys(["selfApproval: true"]), {}).resources[0]?.requiredApprovals).toBe(2);
  });

  it("does not guess when groups are involved or anyone may request", () => {
    const accepted = [
      // Approvers from a group: only Slack knows how many people that is.
      resource("a", ["requiredApprovals: 3", "requesters: { users: [U0LEAD1] }"], {
        approvers: "{ users: [U0LEAD1], groups: [S0SRE] }",
      }),
      // Requesters from a group: whether an approver is among them is only known to Slack.
      resource("b", ["requiredApprovals: 2", "requesters: { users: [U0LEAD1], groups: [S0DEVS] }"], {
        approvers: "{ users: [U0LEAD1, U0LEAD2] }",
      }),
      // Anyone may request: most requesters are not approvers, so two approvals are reachable.
      resource("c", ["requiredApprovals: 2"], { approvers: "{ users: [U0LEAD1, U0LEAD2] }" }),
    ];
    expect(parsePolicy(policy(...accepted), {}).resources.map((r) => r.requiredApprovals)).toEqual([3, 2, 2]);
  });

  it("rejects a maxPendingPerUser below 1", () => {
    expect(problemsOf(`maxPendingPerUser: 0\n${policy(resource("a"))}`)).toEqual([
      "maxPendingPerUser: Too small: expected number to be >=1",
    ]);
  });

  it("rejects a resource without approvers, once", () => {
    expect(problemsOf(policy(resource("a", [], { approvers: "{ users: [], groups: [] }" })))).toEqual([
      "resources[0].approvers: needs at least one user or group",
    ]);
  });

  it("rejects a maxDuration shorter than minDuration", () => {
    expect(problemsOf(`minDuration: 2h\n${policy(resource("a", [], { maxDuration: "1h" }))}`)).toEqual([
      "resources[0].maxDuration: is shorter than minDuration",
    ]);
  });

  it("checks Slack ids and resource ids", () => {
    expect(
      problemsOf(
        `admins: [alice]\napprovalsChannel: "#approvals"\n${policy(
          resource("Staging DB", [], { approvers: "{ users: [U0LEAD1], groups: [U0NOTAGROUP] }" }),
        )}`,
      ),
    ).toEqual([
      "admins[0]: must be a Slack user id like U0123ABCD",
      "approvalsChannel: must be a Slack channel id like C0123ABCD",
      "resources[0].id: must be lower-case letters, digits, . _ or -",
      "resources[0].approvers.groups[0]: must be a Slack user group id like S0123ABCD",
    ]);
  });

  it("requires at least one resource", () => {
    expect(problemsOf("resources: []\n")).toEqual(["resources: must list at least one resource"]);
    expect(problemsOf("minDuration: 1m\n")).toHaveLength(1);
    expect(problemsOf("minDuration: 1m\n")[0]).toMatch(/^resources: /);
  });

  it("rejects a document that is not a mapping", () => {
    expect(problemsOf("- a\n- b\n")).toHaveLength(1);
    expect(problemsOf("just words\n")).toHaveLength(1);
  });

  it("lists every problem at once, in a ConfigError message", () => {
    const text = `minDuration: soon\n${policy(resource("a", ["foo: 1"], { provider: "ldap" }))}`;
    expect(() => parsePolicy(text, {}, "policy file /etc/jit.yaml")).toThrow(
      [
        "invalid policy file /etc/jit.yaml:",
        "  - minDuration: must be a duration like 30m, 2h, 1d",
        "  - resources[0].provider: must be one of postgres, webhook, github, aws-sso, kubernetes",
        '  - resources[0]: unknown key(s) "foo"',
      ].join("\n"),
    );
  });
});

describe("parsePolicy: ${VAR} interpolation", () => {
  it("substitutes variables inside strings, several per value", () => {
    const parsed = parsePolicy(
      policy(
        resource("a", [], {
          settings: '{ url: "https://${HOOK_HOST}:${HOOK_PORT}/jit", secret: "${HOOK_SECRET}" }',
        }),
      ),
      { HOOK_HOST: "hooks.internal", HOOK_PORT: "8443", HOOK_SECRET: "s".repeat(20) },
    );
    expect(parsed.resources[0]?.settings).toEqual({
      url: "https://hooks.internal:8443/jit",
      secret: "s".repeat(20),
    });
  });

  it("reports a missing variable once, with its path, and not also as a malformed value", () => {
    expect(
      problemsOf(
        policy(
          resource("a", [], {
            maxDuration: '"${MAX}"',
            settings: '{ url: "https://${HOST}/x?h=${HOST}", secret: "${SECRET}" }',
          }),
        ),
        { SECRET: "0123456789abcdef" },
      ),
    ).toEqual([
      "resources[0].settings.url: environment variable HOST is not set",
      "resources[0].maxDuration: environment variable MAX is not set",
    ]);
  });

  it("reports a missing variable even when the value would be valid without it", () => {
    expect(problemsOf(policy(resource("a", [], { name: '"Staging ${SUFFIX}"' })))).toEqual([
      "resources[0].name: environment variable SUFFIX is not set",
    ]);
  });

  it("uses an empty variable as the empty string (and reports what that makes wrong)", () => {
    expect(
      problemsOf(policy(resource("a", [], { settings: '{ url: "https://h/x", secret: "${SECRET}" }' })), {
        SECRET: "",
      }),
    ).toEqual(["resources[0].settings.secret: must be at least 16 characters"]);
  });

  it("never lets a variable's YAML-special characters change the document's structure", () => {
    const hostile = 'x", roles: [superuser] }\n    breakglass: true\n  - id: evil # &anchor *alias {a: b}';
    const parsed = parsePolicy(
      policy(resource("a", [], { settings: '{ url: "https://h/x", secret: "${SECRET}" }' })),
      { SECRET: hostile },
    );
    expect(parsed.resources).toHaveLength(1);
    expect(parsed.resources[0]?.breakglass).toBe(false);
    expect(parsed.resources[0]?.settings).toEqual({ url: "https://h/x", secret: hostile });
  });

  it("does not interpolate keys or non-string values", () => {
    const parsed = parsePolicy(policy(resource("a", ["requiredApprovals: 1"])), { requiredApprovals: "9" });
    expect(parsed.resources[0]?.requiredApprovals).toBe(1);
  });
});

describe("parsePolicy: YAML problems", () => {
  it("reports a YAML syntax error with its line", () => {
    expect(problemsOf("resources: [\n  - id: a\n")).toEqual([
      "Block collections are not allowed within flow collections at line 2, column 3",
      "Flow sequence in block collection must be sufficiently indented and end with a ] at line 3, column 1",
    ]);
    const unterminated = problemsOf('audit: { channel: "C0AUDIT }\n');
    expect(unterminated.length).toBeGreaterThan(0);
    for (const problem of unterminated) expect(problem).toMatch(/ at line \d+, column \d+$/);
  });

  it("rejects duplicate keys instead of silently keeping the last", () => {
    const problems = problemsOf(policy(resource("a", ["maxDuration: 30d"])));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toBe("Map keys must be unique at line 8, column 5");
  });
});

describe("loadPolicy", () => {
  const dir = mkdtempSync(join(tmpdir(), "jit-policy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads and validates a file", () => {
    const file = join(dir, "ok.yaml");
    writeFileSync(file, CONTRACT_EXAMPLE);
    expect(loadPolicy(file, CONTRACT_ENV).resources.map((r) => r.id)).toEqual(["staging-db", "deploy-hook"]);
  });

  it("names the file in the message of an invalid policy", () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, policy(resource("a", [], { maxDuration: "forever" })));
    expect(() => loadPolicy(file, {})).toThrow(
      `invalid policy file ${file}:\n  - resources[0].maxDuration: must be a duration like 30m, 2h, 1d`,
    );
  });

  it("names JIT_CONFIG when the file does not exist", () => {
    const file = join(dir, "missing.yaml");
    let caught: unknown;
    try {
      loadPolicy(file, {});
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems).toEqual(["JIT_CONFIG: file not found"]);
    expect((caught as ConfigError).message).toBe(
      `invalid policy file ${file}:\n  - JIT_CONFIG: file not found`,
    );
  });

  it("reports another read error (a directory) without crashing", () => {
    expect(() => loadPolicy(dir, {})).toThrow(/^invalid policy file .*:\n {2}- JIT_CONFIG: .*EISDIR/);
  });
});

describe("formatPath", () => {
  it("writes paths the way they look in YAML", () => {
    expect(formatPath(["resources", 1, "settings", "url"])).toBe("resources[1].settings.url");
    expect(formatPath(["admins", 0])).toBe("admins[0]");
    expect(formatPath([])).toBe("");
  });
});
