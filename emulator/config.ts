import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { envVar, listenHost, port, readEnv, str, url } from '../lib/config.js';
import { webhookSecretVar } from '../lib/webhook-secret.js';

export interface EmulatorConfig {
  port: number;
  host: string;
  masterToken: string;
  /** True when TRAY_MASTER_TOKEN was unset and a throwaway token was generated for this run. */
  masterTokenGenerated: boolean;
  embeddedId: string;
  webhookUrl: string;
  webhookSecret?: string;
  /** Absolute path of the file that keeps the emulator's state across restarts; unset = memory only. */
  stateFile?: string;
}

const spec = {
  TRAY_EMULATOR_PORT: port({ default: 4000, allowZero: true }),
  TRAY_EMULATOR_HOST: listenHost({ default: '127.0.0.1' }),
  TRAY_MASTER_TOKEN: str({ optional: true, secret: true }),
  // It is a path segment of every dialog URL.
  TRAY_EMBEDDED_ID: envVar<string, { default: string }>({ default: 'connect-saga-dev' }, (raw) =>
    /^[A-Za-z0-9._~-]{1,200}$/.test(raw)
      ? { value: raw }
      : { problem: 'must be 1-200 characters of letters, digits, ".", "_", "~" or "-"' },
  ),
  WEBHOOK_URL: url({ default: 'http://127.0.0.1:3000/v1/webhooks/auth-completed' }),
  WEBHOOK_SECRET: webhookSecretVar(),
  // Resolved against the working directory, so the startup lines show exactly which file is used.
  TRAY_EMULATOR_STATE_FILE: envVar({ optional: true }, (raw) => {
    const file = resolve(raw);
    if (raw.endsWith('/') || statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
      return { problem: 'must be a file path, not a directory' };
    }
    return { value: file };
  }),
};

/** Reads the emulator's environment; throws a ConfigError naming every bad variable. */
export function loadEmulatorConfig(env: Record<string, string | undefined> = process.env): EmulatorConfig {
  const v = readEnv(spec, env);
  return {
    port: v.TRAY_EMULATOR_PORT,
    host: v.TRAY_EMULATOR_HOST,
    masterToken: v.TRAY_MASTER_TOKEN ?? `mt_${randomBytes(24).toString('base64url')}`,
    masterTokenGenerated: v.TRAY_MASTER_TOKEN === undefined,
    embeddedId: v.TRAY_EMBEDDED_ID,
    webhookUrl: v.WEBHOOK_URL,
    webhookSecret: v.WEBHOOK_SECRET,
    stateFile: v.TRAY_EMULATOR_STATE_FILE,
  };
}
