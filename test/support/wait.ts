/** Generic polling helper for integration tests. */

export interface WaitForOptions {
  /** Give up after this many milliseconds (default 5000). */
  timeout?: number;
  /** Poll every this many milliseconds (default 25). */
  interval?: number;
  /** Prefix for the timeout error message. */
  message?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `fn` until it returns a truthy value without throwing, and resolves to that value.
 * Rejects after `timeout` ms with the last error thrown (or the last falsy value) in the message.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  { timeout = 5_000, interval = 25, message }: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  let lastValue: unknown;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
      lastValue = value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
  const detail =
    lastError !== undefined
      ? `last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`
      : `last value: ${JSON.stringify(lastValue)}`;
  const error = new Error(
    `${message ? `${message}: ` : ""}waitFor timed out after ${timeout}ms (${attempts} attempts; ${detail})`,
  );
  if (lastError !== undefined) (error as Error & { cause?: unknown }).cause = lastError;
  throw error;
}
