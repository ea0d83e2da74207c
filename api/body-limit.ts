/**
 * The largest request body a route reads, a larger one answered 413; /codec alone takes more (its
 * own limit), since the Web UI sends a whole history's payloads in one request.
 */
export const BODY_LIMIT_BYTES = 64 * 1024;
/** The same limit in words, for error messages and the OpenAPI document. */
export const BODY_LIMIT_TEXT = `${BODY_LIMIT_BYTES / 1024} KiB`;
