import { z } from "zod";

/**
 * Settings of a `postgres` resource. `url` is an admin connection able to create, alter and drop
 * roles (a superuser, or a CREATEROLE role that also belongs to `pg_signal_backend` and administers
 * `roles`); `roles` are existing roles whose privileges a grant confers by membership.
 */
export const PostgresSettings = z
  .object({
    url: z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// or postgresql:// URL" }),
    roles: z.array(z.string().min(1).max(63)).min(1),
    /**
     * A NOLOGIN role without privileges that keeps what revoked grantees made. Unset (the default),
     * a revoke drops those objects. Never the admin: see owned-objects.ts.
     */
    reassignOwnedTo: z.string().min(1).max(63).optional(),
  })
  .strict();

export type PostgresSettings = z.infer<typeof PostgresSettings>;
