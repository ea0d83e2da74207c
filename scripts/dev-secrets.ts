/**
 * The local stack's made-up credentials (emulator master token, embedded id, webhook secret), kept in
 * `.data/dev-secrets.json` so a second `npm start` reuses them: sagas started by the first run keep
 * the same embedded id in their dialog URLs, and the webhook secret the emulator signs with stays the
 * one the API verifies with.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeFolders } from '../lib/make-folders.js';

export interface DevSecrets {
  masterToken: string;
  embeddedId: string;
  webhookSecret: string;
}

function isDevSecrets(value: unknown): value is DevSecrets {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.masterToken === 'string' &&
    v.masterToken.length > 0 &&
    typeof v.embeddedId === 'string' &&
    v.embeddedId.length > 0 &&
    typeof v.webhookSecret === 'string' &&
    v.webhookSecret.startsWith('whsec_')
  );
}

/** Fresh random credentials for the emulator. */
export function generateDevSecrets(): DevSecrets {
  return {
    masterToken: `dev_mt_${randomBytes(24).toString('base64url')}`,
    embeddedId: `dev-${randomBytes(6).toString('hex')}`,
    webhookSecret: `whsec_${randomBytes(32).toString('base64')}`,
  };
}

/**
 * Reads the secrets file, or creates it (mode 0600) when it does not exist. A file that exists but is
 * not what this function writes is an error rather than silently replaced, since replacing it would
 * orphan the sagas that were started with the old values.
 */
export async function loadOrCreateDevSecrets(
  file: string,
): Promise<{ secrets: DevSecrets; created: boolean }> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!isDevSecrets(parsed)) {
      throw new Error(`${file} is not a valid dev secrets file; delete it to generate new ones`);
    }
    // Tighten permissions in case the file was copied around with a looser mode.
    await chmod(file, 0o600);
    return { secrets: parsed, created: false };
  }
  const secrets = generateDevSecrets();
  makeFolders(dirname(file));
  // `wx`: if two starts race, the second fails instead of overwriting the first one's secrets.
  await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return { secrets, created: true };
}
