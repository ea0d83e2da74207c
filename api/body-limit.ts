/** The largest request body any route reads; a larger one is answered 413. */
export const BODY_LIMIT_BYTES = 64 * 1024;
/** The same limit in words, for error messages and the OpenAPI document. */
export const BODY_LIMIT_TEXT = `${BODY_LIMIT_BYTES / 1024} KiB`;
