import pg from "pg";

/**
 * What a revoke does with the objects a grantee made during its window. They are never handed to the
 * admin: a SECURITY DEFINER function reassigned to a superuser would be lasting superuser access for
 * anyone who may call it. They are dropped (`DROP OWNED`, which also revokes every privilege granted
 * to the role), or, when the operator configures `reassignOwnedTo`, handed to a NOLOGIN role without
 * privileges whose fitness is checked each time.
 */

/** Databases where a role owns something or holds a privilege, as the cluster-wide pg_shdepend says. */
export interface DatabaseWithObjects {
  name: string;
  /** False for databases that refuse connections (`datallowconn = false`, e.g. template0). */
  allowsConnections: boolean;
}

export async function databasesWithObjectsOf(
  client: pg.ClientBase,
  role: string,
): Promise<DatabaseWithObjects[]> {
  // dbid = 0 rows are shared objects (a privilege on a database…): DROP OWNED in any database
  // revokes those, so they need no database of their own.
  const result = await client.query<{ name: string; allows_connections: boolean }>(
    `SELECT DISTINCT d.datname AS name, d.datallowconn AS allows_connections
       FROM pg_shdepend s
       JOIN pg_database d ON d.oid = s.dbid
      WHERE s.refclassid = 'pg_authid'::regclass
        AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)
      ORDER BY 1`,
    [role],
  );
  return result.rows.map((row) => ({ name: row.name, allowsConnections: row.allows_connections }));
}

/**
 * In the client's current database: hands what `role` owns to `reassignTo` when given, then drops
 * whatever it still owns and revokes every privilege granted to it. Objects of other roles that
 * depend on the role's objects make this fail (RESTRICT) rather than silently disappear.
 */
export async function disposeOwned(client: pg.ClientBase, role: string, reassignTo?: string): Promise<void> {
  const quoted = pg.escapeIdentifier(role);
  if (reassignTo) await client.query(`REASSIGN OWNED BY ${quoted} TO ${pg.escapeIdentifier(reassignTo)}`);
  await client.query(`DROP OWNED BY ${quoted}`);
}

/** What disqualifies a role from keeping the objects of revoked grants, as the SQL below names it. */
const DISQUALIFIERS: Record<string, string> = {
  can_login: "can log in",
  is_superuser: "is a superuser",
  has_createrole: "has CREATEROLE",
  has_createdb: "has CREATEDB",
  has_replication: "has REPLICATION",
  has_bypassrls: "has BYPASSRLS",
  is_member: "is a member of other roles (and would hold their privileges)",
  has_login_members: "can be used by roles that log in (they would get what it owns)",
};

/**
 * Why `owner` may not keep the objects of revoked grants, or `undefined` when it may: it must exist,
 * be unable to log in and hold no privilege: no superuser or other role attribute, member of no
 * role, and no login role (other than superusers and the admin itself, who can do everything
 * anyway) can act as it.
 */
export async function unfitOwnerReason(client: pg.ClientBase, owner: string): Promise<string | undefined> {
  const result = await client.query<Record<string, boolean>>(
    `SELECT r.rolcanlogin AS can_login, r.rolsuper AS is_superuser, r.rolcreaterole AS has_createrole,
            r.rolcreatedb AS has_createdb, r.rolreplication AS has_replication, r.rolbypassrls AS has_bypassrls,
            EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid) AS is_member,
            EXISTS (SELECT 1 FROM pg_roles l
                     WHERE l.rolcanlogin AND NOT l.rolsuper AND l.oid <> r.oid AND l.rolname <> current_user
                       AND pg_has_role(l.oid, r.oid, 'MEMBER')) AS has_login_members
       FROM pg_roles r WHERE r.rolname = $1`,
    [owner],
  );
  const row = result.rows[0];
  const problems = row
    ? Object.entries(DISQUALIFIERS)
        .filter(([column]) => row[column])
        .map(([, problem]) => problem)
    : ["does not exist"];
  if (problems.length === 0) return undefined;
  return `reassignOwnedTo "${owner}" must be an existing NOLOGIN role without privileges, but it ${problems.join(", ")}`;
}
