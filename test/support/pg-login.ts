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
