/**
 * Ids shown in the Temporal Web UI's markdown (a saga's summary and current details). Ids may hold
 * any printable character, so one with a backtick would end its code span early and let the rest
 * render as markdown (a link, emphasis); inside a span nothing renders.
 */

/** `text` as one inline code span, its backticks shown as apostrophes. */
export function codeSpan(text: string): string {
  return `\`${text.replaceAll('`', "'")}\``;
}
