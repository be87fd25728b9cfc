/**
 * Slack mrkdwn treats `<…>` as a mention, a channel ping or a link and `&` as the start of an
 * entity. Any text a user typed (reasons, resource names, even echoed typos) must pass through
 * `escapeMrkdwn` before it is placed in a message, so nobody can smuggle in `<!channel>`,
 * `<@U123>` or `<https://evil|innocent>`. Emphasis characters (`*`, `_`, `~`, `` ` ``) are left
 * alone: they can change how text looks but cannot notify anyone or hide a link.
 *
 * Convention across jit: the domain produces plain text (which may use mrkdwn emphasis but never
 * `<…>` markup) and the Slack views escape it once, right before sending.
 */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };
const UNESCAPES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">" };

/**
 * Bidirectional-text controls: embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069)
 * and marks (U+200E, U+200F, U+061C). Inside a message they can make text read differently from
 * what it is ("approve" shown, "evorppa" stored; a reason that seems to end before it does).
 */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

/** Removes bidirectional-text controls, so text reads in Slack the way it is stored. */
export function stripBidi(text: string): string {
  return text.replace(BIDI_CONTROLS, "");
}

/**
 * Escapes `&`, `<` and `>` the way Slack asks and drops bidi controls (see stripBidi), making the
 * text inert inside mrkdwn.
 */
export function escapeMrkdwn(text: string): string {
  return stripBidi(text).replace(/[&<>]/g, (c) => ESCAPES[c] ?? c);
}

/**
 * Reverses `escapeMrkdwn`. Slack sends slash-command text with these three entities already
 * escaped; decoding them (in one pass, so `&amp;lt;` becomes `&lt;`, not `<`) recovers what the
 * user really typed, which is what we store. No other entities exist in Slack's scheme.
 */
export function unescapeMrkdwn(text: string): string {
  return text.replace(/&(?:amp|lt|gt);/g, (e) => UNESCAPES[e] ?? e);
}

/**
 * Quotes user text inside a message, cut to `max` characters so a pasted wall of text is not
 * echoed back. The result is still plain text: escape it with the rest of the message.
 */
export function quote(text: string, max = 40): string {
  let kept = "";
  let count = 0;
  for (const char of text) {
    if (count === max) return `"${kept}…"`;
    kept += char;
    count++;
  }
  return `"${text}"`;
}

/**
 * `escapeMrkdwn`, cut so the escaped result is at most `max` characters (an ellipsis marks the
 * cut). Escaping can make text five times longer (`&` is `&amp;`), and Slack refuses a card whose
 * section text exceeds 3,000 characters: a 1,000-character reason of `&`s must still post.
 */
export function escapeMrkdwnWithin(text: string, max: number): string {
  const escaped = escapeMrkdwn(text);
  if (escaped.length <= max) return escaped;
  let kept = "";
  for (const char of stripBidi(text)) {
    const next = ESCAPES[char] ?? char;
    if (kept.length + next.length > max - 1) break;
    kept += next;
  }
  return `${kept}…`;
}
