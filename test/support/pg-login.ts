import pg from "pg";

const AUTH_FAILURES = new Set(["28P01", "28000"]);

/**
 * Opens a connection as a granted user; `undefined` when the server refuses the login (bad password,
 * expired, NOLOGIN, dropped role). Any other failure (server down…) is thrown: a test must not
 * mistake an outage for a refused login.
 */
export async function login(url: string): Promise<pg.Client | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    if (error instanceof pg.DatabaseError && error.code && AUTH_FAILURES.has(error.code)) return undefined;
    throw error;
  }
}

/** Reads `key: value` lines (values may be in backticks) from the grant DM. */
export function credentialsFrom(text: string): Record<string, string> {
  return Object.fromEntries(
    [...text.matchAll(/^(\w+): `?([^`\n]+)`?$/gm)].map((m) => [m[1] as string, m[2] as string]),
  );
}

/** True when `url` accepts a login and a query; false for any failure. */
export async function canLogIn(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
