import { isIPv4 } from "node:net";

/** What `url` must be; names no URL, so the message can be shown whatever the URL holds. */
export const WEBHOOK_URL_RULE =
  "must be an https:// URL (plain http:// only for loopback: 127.0.0.0/8, ::1, localhost), " +
  "without a user name or password";

/** Loopback by address (any of 127.0.0.0/8, `::1`) or by the name `localhost`. */
function isLoopback(hostname: string): boolean {
  if (hostname === "localhost" || hostname === "[::1]") return true;
  return isIPv4(hostname) && hostname.startsWith("127.");
}

/**
 * Whether jit may POST grants to `text`: the body says who gets access and the signature only
 * proves it came from jit, so it travels encrypted unless it never leaves the machine. User info
 * is refused too: it would be a second secret sitting in the URL (and fetch refuses it anyway).
 */
export function isAllowedWebhookUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname));
}

/**
 * `https://host[:port]`: all of the URL that may be shown. The path and query often carry the
 * receiver's own token (`/hooks/T0K3N`, `?key=…`), so they appear in no message, log or detail.
 */
export function webhookHost(text: string): string {
  return new URL(text).origin;
}

/** Pieces shorter than this are words like `hooks` or `jit`; a token is longer. */
const MIN_TOKEN_PIECE = 6;

/**
 * A scrubber for text that may quote the URL back: fetch errors, or a receiver's error page
 * ("Cannot POST /hooks/T0K3N"). Removes the whole URL (raw and normalised), its path and query,
 * and each path segment and query value long enough to be a token, raw or percent-decoded.
 */
export function urlScrubber(text: string): (message: string) => string {
  const url = new URL(text);
  const host = url.origin;
  const pieces = new Set<string>();
  const add = (piece: string) => {
    if (piece.length >= MIN_TOKEN_PIECE) pieces.add(piece);
    try {
      const decoded = decodeURIComponent(piece);
      if (decoded.length >= MIN_TOKEN_PIECE) pieces.add(decoded);
    } catch {
      // not percent-encoded text: the raw piece is enough
    }
  };
  add(`${url.pathname}${url.search}`);
  add(url.pathname);
  add(url.search);
  for (const segment of url.pathname.split("/")) add(segment);
  for (const [key, value] of url.searchParams) {
    add(key);
    add(value);
  }
  // Longest first, so a whole path goes before the segments inside it.
  const ordered = [...pieces].sort((a, b) => b.length - a.length);
  const scrubPieces = (part: string) =>
    ordered.reduce((acc, piece) => acc.split(piece).join("[redacted]"), part);
  return (message) =>
    message
      .split(text)
      .join(host)
      .split(url.href)
      .join(host)
      .split(host) // the host stays readable even if a path segment also occurs in it
      .map(scrubPieces)
      .join(host);
}
