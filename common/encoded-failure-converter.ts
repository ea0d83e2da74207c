/**
 * The failure converter used while payloads are encrypted (lib/payload-codec.ts): failure messages
 * and stack traces move into an encoded payload, so the codec encrypts them too. Loaded by path, in
 * the workflow bundle and in the worker, so it must stay workflow-safe.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
