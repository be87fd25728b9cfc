const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/**
 * Parses a short duration such as `"500ms"`, `"10s"`, `"2m"` or `"1h"` into milliseconds, or returns
 * `undefined` when the text is not one. Kept local so the webhook settings stay self-contained.
 */
export function parseDuration(text: string): number | undefined {
  const match = PATTERN.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  const factor = unit ? UNITS[unit] : undefined;
  if (amount === undefined || factor === undefined) return undefined;
  return Math.round(Number(amount) * factor);
}
