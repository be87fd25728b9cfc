import type { RbacV1Subject, V1RoleRef } from "@kubernetes/client-node";
import type { AccessProvider, GrantContext, GrantResult } from "../types.js";
import { ProviderError } from "../types.js";
import { type KubernetesApis, kubernetesApis } from "./client.js";
import { apiStatus, kubernetesError } from "./errors.js";
import { renderKubeconfig } from "./kubeconfig.js";
import { MANAGED_SELECTOR, type Marks, marksFor, objectNameFor } from "./names.js";
import { deleteIfOwned, type ObjectKind, objectOps, requireOwnedExisting } from "./objects.js";
import type { KubernetesSettings } from "./settings.js";
import { type SweepOptions, type SweptObject, sweepEndedGrants } from "./sweep.js";

const RBAC_GROUP = "rbac.authorization.k8s.io";
/** Kubernetes refuses TokenRequests shorter than this (HTTP 422). */
export const MIN_TOKEN_SECONDS = 600;

/** How long a credentials-mode token lives: until the grant ends, but never under the API's 600 s. */
export function tokenSeconds(expiresAt: Date, now = Date.now()): number {
  return Math.max(MIN_TOKEN_SECONDS, Math.ceil((expiresAt.getTime() - now) / 1000));
}

/**
 * Grants a Role or ClusterRole in one namespace through one RoleBinding per grant, named and
 * labelled from the grant id, so overlapping grants are independent bindings and access lasts until
 * the last one is deleted; bindings jit did not make are never read as its own, changed or deleted.
 * With `credentials: true` the subject is a ServiceAccount of the same name, and the grantee gets a
 * kubeconfig holding a TokenRequest token that expires with the grant (at least 600 s); deleting
 * the ServiceAccount on revoke invalidates the token at once.
 */
export class KubernetesProvider implements AccessProvider {
  readonly identityKey: string | undefined;
  readonly #settings: KubernetesSettings;
  readonly #roleRef: V1RoleRef;
  #apis: KubernetesApis | undefined;

  constructor(settings: KubernetesSettings) {
    this.#settings = settings;
    this.identityKey = settings.credentials ? undefined : (settings.identity ?? "email");
    this.#roleRef =
      settings.role !== undefined
        ? { apiGroup: RBAC_GROUP, kind: "Role", name: settings.role }
        : { apiGroup: RBAC_GROUP, kind: "ClusterRole", name: settings.clusterRole ?? "" };
  }

  async grant(ctx: GrantContext): Promise<GrantResult> {
    const name = objectNameFor(ctx.grantId);
    const marks = marksFor(ctx);
    const { namespace } = this.#settings;
    const role = `${this.#roleRef.kind}/${this.#roleRef.name}`;
    if (!this.#settings.credentials) {
      const user = this.#identityOf(ctx);
      await this.#call(`grant ${ctx.grantId}: create RoleBinding "${name}"`, () =>
        this.#ensureBinding(name, marks, ctx.grantId, { kind: "User", apiGroup: RBAC_GROUP, name: user }),
      );
      return { details: { namespace, role, user, roleBinding: name } };
    }
    return this.#call(`grant ${ctx.grantId}: service account "${name}"`, async () => {
      await this.#ensureServiceAccount(name, marks, ctx.grantId);
      await this.#ensureBinding(name, marks, ctx.grantId, { kind: "ServiceAccount", name, namespace });
      const issued = await this.#apis_().core.createNamespacedServiceAccountToken({
        name,
        namespace,
        body: { spec: { audiences: [], expirationSeconds: tokenSeconds(ctx.expiresAt) } },
      });
      const token = issued.status?.token;
      if (!token)
        throw new ProviderError(`kubernetes: the TokenRequest for "${name}" returned no token`, true);
      const kubeconfig = renderKubeconfig({ cluster: this.#apis_().cluster, name, namespace, token });
      const expires = issued.status?.expirationTimestamp;
      return {
        details: {
          namespace,
          role,
          serviceAccount: name,
          server: this.#apis_().cluster.server,
          ...(expires ? { tokenExpiresAt: new Date(expires).toISOString() } : {}),
        },
        secrets: { kubeconfig },
      };
    });
  }

  /** Deletes this grant's ServiceAccount first (its tokens die with it), then its RoleBinding. */
  async revoke(ctx: GrantContext): Promise<void> {
    const name = objectNameFor(ctx.grantId);
    await this.#call(`revoke ${ctx.grantId}: delete "${name}"`, async () => {
      if (this.#settings.credentials) await this.#deleteOwned("ServiceAccount", name, ctx.grantId);
      await this.#deleteOwned("RoleBinding", name, ctx.grantId);
    });
  }

  /** Lists jit's bindings (and service accounts): proves reachability, credentials and RBAC. */
  async check(): Promise<void> {
    const { namespace } = this.#settings;
    await this.#call(`check of namespace "${namespace}"`, async () => {
      await this.#apis_().rbac.listNamespacedRoleBinding({
        namespace,
        labelSelector: MANAGED_SELECTOR,
        limit: 1,
      });
      if (this.#settings.credentials) {
        await this.#apis_().core.listNamespacedServiceAccount({
          namespace,
          labelSelector: MANAGED_SELECTOR,
          limit: 1,
        });
      }
    });
  }

  /**
   * Deletes jit's objects in the namespace whose grant is not in `liveGrantIds` (see
   * {@link sweepEndedGrants}); for the reconciler, after a revoke that never ran.
   */
  async sweep(liveGrantIds: ReadonlySet<string>, options?: SweepOptions): Promise<SweptObject[]> {
    const kinds: ObjectKind[] = this.#settings.credentials
      ? ["ServiceAccount", "RoleBinding"]
      : ["RoleBinding"];
    return this.#call(`sweep of namespace "${this.#settings.namespace}"`, () =>
      sweepEndedGrants(
        kinds.map((kind) => ({ kind, ops: objectOps(this.#apis_(), this.#settings.namespace, kind) })),
        liveGrantIds,
        options,
      ),
    );
  }

  async close(): Promise<void> {}

  /** The clients, built on first use so creating the provider touches no file and no network. */
  #apis_(): KubernetesApis {
    this.#apis ??= kubernetesApis(this.#settings);
    return this.#apis;
  }

  #identityOf(ctx: GrantContext): string {
    const key = this.identityKey ?? "email";
    const value = ctx.identities[key] ?? (key === "email" ? ctx.requester.email : undefined);
    if (value) return value;
    throw new ProviderError(
      `kubernetes: ${ctx.requester.slackId} has no "${key}" identity, which ${ctx.resource} binds as its Kubernetes user; ` +
        `add it under identities in the policy (${ctx.requester.slackId}: { ${key}: … })`,
      false,
    );
  }

  async #ensureBinding(name: string, marks: Marks, grantId: string, subject: RbacV1Subject): Promise<void> {
    const { namespace } = this.#settings;
    try {
      await this.#apis_().rbac.createNamespacedRoleBinding({
        namespace,
        body: { metadata: { name, namespace, ...marks }, subjects: [subject], roleRef: this.#roleRef },
      });
    } catch (error) {
      if (apiStatus(error) !== 409) throw error;
      const ops = objectOps(this.#apis_(), namespace, "RoleBinding");
      await requireOwnedExisting(ops, "RoleBinding", name, grantId, namespace, (existing) => {
        const subjects = (existing.subjects ?? []) as RbacV1Subject[];
        const roleRef = existing.roleRef as V1RoleRef | undefined;
        return (
          subjects.length === 1 &&
          subjects[0]?.kind === subject.kind &&
          subjects[0]?.name === subject.name &&
          roleRef?.kind === this.#roleRef.kind &&
          roleRef?.name === this.#roleRef.name
        );
      });
    }
  }

  async #ensureServiceAccount(name: string, marks: Marks, grantId: string): Promise<void> {
    const { namespace } = this.#settings;
    try {
      await this.#apis_().core.createNamespacedServiceAccount({
        namespace,
        body: { metadata: { name, namespace, ...marks } },
      });
    } catch (error) {
      if (apiStatus(error) !== 409) throw error;
      const ops = objectOps(this.#apis_(), namespace, "ServiceAccount");
      await requireOwnedExisting(ops, "ServiceAccount", name, grantId, namespace, () => true);
    }
  }

  async #deleteOwned(kind: ObjectKind, name: string, grantId: string): Promise<void> {
    await deleteIfOwned(objectOps(this.#apis_(), this.#settings.namespace, kind), kind, name, grantId);
  }

  /** Runs one step, turning whatever the client threw into a ProviderError without secrets. */
  async #call<T>(what: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      throw kubernetesError(error, what, [this.#settings.token]);
    }
  }
}
