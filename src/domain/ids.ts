/**
 * Request and grant ids: short enough to read aloud and type (`R-7KQ2`), shown in every message,
 * and passed to providers as `requestId`. The alphabet is Crockford's base32 (no I, L, O or U), so
 * ids never contain look-alike characters or spell words.
 *
 * Four characters give about a million ids; that is not collision-proof, so the store must insert
 * with a unique constraint and draw again (or draw a longer id) when it collides.
 */
import { randomInt } from "node:crypto";

export const ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const MIN_ID_LENGTH = 4;
export const MAX_ID_LENGTH = 16;

const REQUEST_ID = new RegExp(`^R-[${ID_ALPHABET}]{${MIN_ID_LENGTH},${MAX_ID_LENGTH}}$`);

/**
 * A fresh random request id such as `R-7KQ2`. Uses the CSPRNG: ids appear in URLs and buttons,
 * and a guessable next id would make probing other people's requests easier.
 */
export function newRequestId(length = MIN_ID_LENGTH): string {
  if (!Number.isInteger(length) || length < MIN_ID_LENGTH || length > MAX_ID_LENGTH) {
    throw new RangeError(`request ids have ${MIN_ID_LENGTH} to ${MAX_ID_LENGTH} characters, got ${length}`);
  }
  let id = "R-";
  for (let i = 0; i < length; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** The grant made from a request shares its code (`R-7KQ2` → `G-7KQ2`), so either leads to the other. */
export function grantIdFor(requestId: string): string {
  const normalized = normalizeRequestId(requestId);
  if (normalized === null) throw new RangeError(`not a request id: ${JSON.stringify(requestId)}`);
  return `G-${normalized.slice(2)}`;
}

/**
 * The canonical (upper-case) form of a request id typed by a person, or `null` if it is not one.
 * Case does not matter, and — as in Crockford's scheme — `O` reads as `0` and `I`/`L` as `1`,
 * since those letters are never issued. The `R-` prefix is required.
 */
export function normalizeRequestId(text: string): string | null {
  const trimmed = text.trim();
  // ASCII only: Unicode case mapping would let look-alikes such as "ı" or "ſ" through.
  if (!/^[A-Za-z0-9-]+$/.test(trimmed)) return null;
  const upper = trimmed.toUpperCase();
  if (!upper.startsWith("R-")) return null;
  const code = upper.slice(2).replace(/O/g, "0").replace(/[IL]/g, "1");
  const id = `R-${code}`;
  return REQUEST_ID.test(id) ? id : null;
}

/** Whether the text names a request id (in any case); see `normalizeRequestId`. */
export function isRequestId(text: string): boolean {
  return normalizeRequestId(text) !== null;
}
