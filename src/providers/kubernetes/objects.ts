import type { V1ObjectMeta } from "@kubernetes/client-node";
import { ProviderError } from "../types.js";
import type { KubernetesApis } from "./client.js";
import { apiStatus } from "./errors.js";
import { grantIdOf } from "./names.js";

/** The two kinds of object jit creates, behind one shape so ownership checks are written once. */
export type ObjectKind = "RoleBinding" | "ServiceAccount";

export interface ObjectOps {
  read(name: string): Promise<{ metadata?: V1ObjectMeta } & Record<string, unknown>>;
  /** Deletes only the object with this uid (the API answers 409 if it was replaced meanwhile). */
  delete(name: string, uid: string | undefined): Promise<unknown>;
  list(labelSelector: string): Promise<Array<{ metadata?: V1ObjectMeta }>>;
}

export function objectOps(apis: KubernetesApis, namespace: string, kind: ObjectKind): ObjectOps {
  const body = (uid: string | undefined) => (uid ? { preconditions: { uid } } : undefined);
  if (kind === "RoleBinding") {
    return {
      read: async (name) => ({ ...(await apis.rbac.readNamespacedRoleBinding({ name, namespace })) }),
      delete: (name, uid) => apis.rbac.deleteNamespacedRoleBinding({ name, namespace, body: body(uid) }),
      list: async (labelSelector) =>
        (await apis.rbac.listNamespacedRoleBinding({ namespace, labelSelector })).items,
    };
  }
  return {
    read: async (name) => ({ ...(await apis.core.readNamespacedServiceAccount({ name, namespace })) }),
    delete: (name, uid) => apis.core.deleteNamespacedServiceAccount({ name, namespace, body: body(uid) }),
    list: async (labelSelector) =>
      (await apis.core.listNamespacedServiceAccount({ namespace, labelSelector })).items,
  };
}

/**
 * Deletes `name` if, and only if, jit made it for `grantId`: read it, check the marks, delete that
 * very object (uid precondition). Not found, or someone else's object, counts as done: jit never
 * removes what it did not create. Returns whether something was deleted.
 */
export async function deleteIfOwned(
  ops: ObjectOps,
  kind: ObjectKind,
  name: string,
  grantId: string,
): Promise<boolean> {
  let existing: { metadata?: V1ObjectMeta };
  try {
    existing = await ops.read(name);
  } catch (error) {
    if (apiStatus(error) === 404) return false;
    throw error;
  }
  if (grantIdOf(existing.metadata) !== grantId) return false;
  try {
    await ops.delete(name, existing.metadata?.uid);
    return true;
  } catch (error) {
    if (apiStatus(error) === 404) return false;
    if (apiStatus(error) === 409) {
      // Replaced between our read and delete: a retry reads the new object and decides again.
      throw new ProviderError(
        `kubernetes: ${kind} "${name}" changed while jit was deleting it; retrying`,
        true,
      );
    }
    throw error;
  }
}

/**
 * After a create answered 409 AlreadyExists: fine when the object is jit's for this grant and
 * `matches` it (a retried grant), a permanent error otherwise, so jit never adopts or alters an
 * object it did not make.
 */
export async function requireOwnedExisting(
  ops: ObjectOps,
  kind: ObjectKind,
  name: string,
  grantId: string,
  namespace: string,
  matches: (existing: Record<string, unknown>) => boolean,
): Promise<void> {
  let existing: { metadata?: V1ObjectMeta } & Record<string, unknown>;
  try {
    existing = await ops.read(name);
  } catch (error) {
    if (apiStatus(error) === 404) {
      throw new ProviderError(
        `kubernetes: ${kind} "${name}" was deleted while jit was creating it; retrying`,
        true,
      );
    }
    throw error;
  }
  if (grantIdOf(existing.metadata) !== grantId) {
    throw new ProviderError(
      `kubernetes: a ${kind} named "${name}" already exists in namespace "${namespace}" and was not made by jit ` +
        `for grant ${grantId}; jit leaves it alone. Rename or remove it, then retry.`,
      false,
    );
  }
  if (!matches(existing)) {
    throw new ProviderError(
      `kubernetes: ${kind} "${name}" of grant ${grantId} exists with a different subject or role ` +
        "(the resource's settings or the requester's identity changed); it is removed when the grant is revoked",
      false,
    );
  }
}
