import { createHash, createHmac, pbkdf2, randomBytes } from "node:crypto";
import { promisify } from "node:util";

const pbkdf2Async = promisify(pbkdf2);

/**
 * Computes a PostgreSQL SCRAM-SHA-256 verifier (RFC 5802/7677, as stored in `pg_authid`) so that
 * `CREATE/ALTER ROLE … PASSWORD` receives the verifier, never the plaintext: the password cannot
 * leak through `log_statement`, `pg_stat_activity` or an error report on the server side.
 * The password is expected to be ASCII (ours are base64url), for which SASLprep is the identity.
 */
export async function scramSha256Verifier(password: string, iterations = 4096): Promise<string> {
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}
