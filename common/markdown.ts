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
 * `text` as prose that renders as itself: on one line, cut to `max` characters, and every character
 * that could start markdown (emphasis, links, images, code, HTML, entities, tables) escaped.
 */
export function plainText(text: string, max = PLAIN_TEXT_MAX): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const cut = line.length > max ? `${line.slice(0, max - 1)}…` : line;
  return cut.replace(/[\\`*_[\]<>&~|#!]/g, '\\$&');
}
