/**
 * WEBHOOK_SECRET as the API and the emulator read it: one rule, so a secret the emulator signs its
 * relays with is one the API starts with.
 */
import { envVar } from './config.js';

/** `whsec_` followed by standard base64 of at least 16 bytes, as Standard Webhooks secrets are written. */
const WEBHOOK_SECRET_PATTERN = /^whsec_(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Checks a `whsec_…` secret; returns why it is unusable, or undefined when it is fine. */
export function webhookSecretProblem(raw: string): string | undefined {
  if (!WEBHOOK_SECRET_PATTERN.test(raw)) return 'must be whsec_ followed by base64';
  const bytes = Buffer.from(raw.slice('whsec_'.length), 'base64');
  if (bytes.length < 16) return 'must decode to at least 16 bytes';
  return undefined;
}

/** WEBHOOK_SECRET for `readEnv`: optional, and secret (its value is never echoed). */
export function webhookSecretVar() {
  return envVar<string, { optional: true; secret: true }>({ optional: true, secret: true }, (raw) => {
    const problem = webhookSecretProblem(raw);
    return problem ? { problem } : { value: raw };
  });
}
