import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GithubProvider } from "../../src/providers/github/provider.js";
import { GithubSettings } from "../../src/providers/github/settings.js";
import type { GrantContext } from "../../src/providers/types.js";
import { type GithubStandin, startGithubStandin } from "../support/github-standin.js";
import { type HoldsDb, startHoldsDb } from "../support/holds-db.js";
import { grantContext } from "./conformance.js";

/**
 * Reference counting under any interleaving: 2–3 grants of one GitHub login to one team, each
 * granted, revoked and expired (and retried) in a random order, on two "replicas" (two providers,
 * each with its own connection pool to the same PostgreSQL), all at once. Within one grant the
 * steps run in order, as jit's per-grant lock makes them; across grants fast-check's scheduler picks
 * which starts next while the others are still talking to PostgreSQL and the GitHub stand-in.
 * Whenever everything has settled: the login is in the team iff it was before jit, or some grant
 * still holds it. At the end, with every grant revoked, only access from before jit remains and no
 * count is left behind.
 */
const RUNS = Number(process.env.HOLDS_PROPERTY_RUNS ?? 40);
const LOGIN = "ada-lovelace";

type Step = { kind: "grant" | "revoke" | "expire"; replica: 0 | 1 };

const step = fc.record({
  kind: fc.constantFrom("grant", "revoke", "expire") as fc.Arbitrary<Step["kind"]>,
  replica: fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>,
});

const scenario = fc.record({
  preExisting: fc.boolean(),
  grants: fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 3 }),
});

let db: HoldsDb;
let gh: GithubStandin;
let admin: pg.Client;
let run = 0;

beforeAll(async () => {
  db = await startHoldsDb("holds_property");
  gh = await startGithubStandin({ members: [LOGIN] });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await gh?.close();
  await db?.close();
});

describe("reference counts (ProviderHold) with the github provider", () => {
  it("access exists iff it pre-existed or some grant holds it, under any interleaving", async () => {
    const replicas = [db.holds, db.replica()];
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenario, async (s, { preExisting, grants }) => {
        const team = `team-${++run}`;
        gh.teams.set(team, new Map(preExisting ? [[LOGIN, "active" as const]] : []));
        const settings = GithubSettings.parse({
          org: "acme",
          team,
          apiUrl: gh.url,
          token: "ghp_standin_token",
        });
        const providers = replicas.map(
          (holds) => new GithubProvider(settings, { holds }, { writeSpacingMs: 0 }),
        );
        const contexts: GrantContext[] = grants.map(() => grantContext({ identities: { github: LOGIN } }));
        const held = new Set<number>();
        const act =
          (i: number, { kind, replica }: Step) =>
          async () => {
            const provider = providers[replica] as GithubProvider;
            const ctx = contexts[i] as GrantContext;
            if (kind === "grant") await provider.grant(ctx);
            else await provider.revoke(ctx);
            // Each grant's own steps are sequential, so its last finished step says whether it holds.
            if (kind === "grant") held.add(i);
            else held.delete(i);
          };
        const sequences = grants.map((steps, i) =>
          s.scheduleSequence(
            steps.map((st, n) => ({ label: `g${i}#${n}:${st.kind}@${st.replica}`, builder: act(i, st) })),
          ),
        );
        await s.waitFor(Promise.all(sequences.map((q) => q.task)));
        expect(gh.teamState(team, LOGIN) !== undefined).toBe(preExisting || held.size > 0);

        // Everything ends (revokes on both replicas, some twice): only pre-jit access is left.
        await Promise.all(contexts.map((ctx, i) => (providers[i % 2] as GithubProvider).revoke(ctx)));
        await Promise.all(contexts.map((ctx) => (providers[1] as GithubProvider).revoke(ctx)));
        expect(gh.teamState(team, LOGIN) !== undefined).toBe(preExisting);
        const left = await admin.query(`SELECT count(*)::int AS n FROM "ProviderHold" WHERE target LIKE $1`, [
          `%:team:acme/${team}:%`,
        ]);
        expect(left.rows[0].n).toBe(0);
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});
