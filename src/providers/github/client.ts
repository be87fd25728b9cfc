import { createAppAuth } from "@octokit/auth-app";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { Octokit } from "@octokit/rest";
import Bottleneck from "bottleneck";
import type { GithubSettings } from "./settings.js";

const GithubClient = Octokit.plugin(throttling, retry);
export type GithubClient = InstanceType<typeof GithubClient>;

/** Timings tests shorten; production keeps GitHub's own advice (the plugins' defaults). */
export interface GithubTuning {
  /** One unit of `Retry-After` and of the retry plugin's backoff, in ms. Default 1000. */
  retryUnitMs?: number;
  /** Least time between two writes (GitHub asks for 1 s). Default: the plugin's own. */
  writeSpacingMs?: number;
  /** An installation token is replaced this long before it expires. Default 5 minutes. */
  tokenRefreshMs?: number;
}

/** Rate-limit answers waited out in-process at most this often, and for at most this long each. */
const LIMIT_RETRIES = 2;
const LIMIT_LONGEST_WAIT_S = 60;

/**
 * Octokit with GitHub's rate limits honoured (throttling: primary and secondary limits, waiting
 * for `Retry-After`) and server errors retried (retry plugin). A longer wait than a minute is not
 * spent holding a job: the call fails as transient and the job layer retries it later.
 */
export function githubClient(settings: GithubSettings, tuning: GithubTuning = {}): GithubClient {
  const unit = tuning.retryUnitMs ?? 1000;
  const wantRetry = (after: number, _options: unknown, _octokit: unknown, count: number) =>
    count < LIMIT_RETRIES && after <= LIMIT_LONGEST_WAIT_S;
  const spacing =
    tuning.writeSpacingMs === undefined
      ? {}
      : {
          write: new Bottleneck.Group({ maxConcurrent: 1, minTime: tuning.writeSpacingMs }),
          notifications: new Bottleneck.Group({ maxConcurrent: 1, minTime: tuning.writeSpacingMs }),
        };
  return new GithubClient({
    baseUrl: settings.apiUrl,
    userAgent: "jit-access-bot",
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    throttle: {
      retryAfterBaseValue: unit,
      fallbackSecondaryRateRetryAfter: 60,
      onRateLimit: wantRetry,
      onSecondaryRateLimit: wantRetry,
      ...spacing,
    },
    retry: { retries: 2, retryAfterBaseValue: unit },
    ...auth(settings, tuning.tokenRefreshMs ?? 5 * 60_000),
  });
}

function auth(settings: GithubSettings, refreshMs: number) {
  if (settings.app) {
    return {
      authStrategy: createAppAuth,
      auth: {
        appId: settings.app.id,
        privateKey: settings.app.privateKey,
        installationId: settings.app.installationId,
        cache: installationTokenCache(refreshMs),
      },
    };
  }
  return { auth: settings.token };
}

/**
 * @octokit/auth-app keeps installation tokens for a fixed 59 minutes, whatever `expires_at` GitHub
 * sent. This cache (its documented `get`/`set` store) drops a token `refreshMs` before the
 * `expires_at` recorded in it, so a token is never used close to (or past) its expiry.
 */
function installationTokenCache(refreshMs: number) {
  const tokens = new Map<string, string>();
  return {
    get(key: string): string {
      const value = tokens.get(key);
      // auth-app's stored value is `token|createdAt|expiresAt|…`.
      const expiresAt = Date.parse(value?.split("|")[2] ?? "");
      if (value && expiresAt - Date.now() > refreshMs) return value;
      tokens.delete(key);
      return undefined as unknown as string; // a miss: auth-app asks GitHub for a new token
    },
    set(key: string, value: string) {
      tokens.set(key, value);
    },
  };
}
