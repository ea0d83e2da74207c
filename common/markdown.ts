/**
 * Text shown in the Temporal Web UI's markdown (a saga's summary and current details). Ids and
 * messages may hold any printable character, so an id with a backtick would end its code span early
 * and a message quoting slot names (`[x](https://…)`, `**y**`) would render as a link or emphasis.
 */

/** `text` as one inline code span, its backticks shown as apostrophes. */
export function codeSpan(text: string): string {
  return `\`${text.replaceAll('`', "'")}\``;
}

/** Longest message the details show; a longer one is cut with "…" (the status object has it whole). */
export const PLAIN_TEXT_MAX = 300;

/**
 * What GFM turns into a link by itself, up to the next space: a scheme's `://`, or `www.` at the
 * start or after a space or one of `*_~(` (where GFM looks for it).
 */
const BARE_LINK = /(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/|(?<![^\s*_~(])www\.)\S*/g;

/**
 * `text` as prose that renders as itself: on one line, cut to `max` characters (of the text, before
 * escaping), every character that could start markdown (emphasis, links, images, code, HTML,
 * entities, tables) escaped, and bare URLs shown as code, which the UI never makes a link of.
 */
export function plainText(text: string, max = PLAIN_TEXT_MAX): string {
  // Characters, not UTF-16 units, so the cut never splits a surrogate pair.
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  const cut = chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('');
  const escape = (prose: string): string => prose.replace(/[\\`*_[\]<>&~|#!]/g, '\\$&');
  let out = '';
  let from = 0;
  for (const link of cut.matchAll(BARE_LINK)) {
    out += escape(cut.slice(from, link.index)) + codeSpan(link[0]);
    from = link.index + link[0].length;
  }
  return out + escape(cut.slice(from));
}
