import { randomBytes } from 'node:crypto';
import { after, before, beforeEach } from 'node:test';
import { createActivities, createTrayClient } from '../../activities/index.js';
import type { ConnectActivities } from '../../common/activity-types.js';
import {
  createEmulator,
  type Emulator,
  type EmulatorOptions,
  type SolutionSeed,
} from '../../emulator/server.js';

export interface StartedEmulator {
  emulator: Emulator;
  /** e.g. http://127.0.0.1:41234 — also the dialog host (TRAY_AUTH_DIALOG_URL). */
  url: string;
  /** `${url}/graphql` (TRAY_GRAPHQL_URL). */
  graphqlUrl: string;
  masterToken: string;
  embeddedId: string;
  close(): Promise<void>;
}

/** A solution with one config slot besides its auth slot, which the demo solutions lack. */
export const CONFIG_SOLUTION: SolutionSeed = {
  id: 'sol-config',
  title: 'With config',
  authSlots: [{ externalId: 'slack', serviceName: 'slack', serviceTitle: 'Slack' }],
  configSlots: [{ externalId: 'channel', title: 'Channel', defaultValue: '#general' }],
};

/** A fresh `whsec_...` secret for signing webhook relays in tests. */
export function randomWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** Starts an in-process Tray emulator on 127.0.0.1, a random port, with random master token and embedded id. */
export async function startEmulator(opts: Partial<EmulatorOptions> = {}): Promise<StartedEmulator> {
  const masterToken = opts.masterToken ?? `mt_${randomBytes(18).toString('base64url')}`;
  const embeddedId = opts.embeddedId ?? `emb-${randomBytes(4).toString('hex')}`;
  const emulator = createEmulator({ ...opts, masterToken, embeddedId });
  const { url, close } = await emulator.listen(0, '127.0.0.1');
  return { emulator, url, graphqlUrl: `${url}/graphql`, masterToken, embeddedId, close };
}

/** The saga's activities against `emu`, sealing user tokens under its master token as workers do. */
export function emulatorActivities(emu: StartedEmulator, timeoutMs = 5000): ConnectActivities {
  const tray = createTrayClient({ graphqlUrl: emu.graphqlUrl, masterToken: emu.masterToken, timeoutMs });
  return createActivities({
    tray,
    embeddedId: emu.embeddedId,
    dialogBaseUrl: emu.url,
    sealSecret: emu.masterToken,
  });
}

/**
 * One emulator for the calling test file: started before its tests, closed after them, its faults
 * cleared before each test. `emu` and `activities` (as `emulatorActivities` builds them) are there
 * from the file's `before` on.
 */
export function emulatorForFile(opts: Partial<EmulatorOptions> = {}): {
  readonly emu: StartedEmulator;
  readonly activities: ConnectActivities;
} {
  let started: { emu: StartedEmulator; activities: ConnectActivities } | undefined;
  before(async () => {
    const emu = await startEmulator(opts);
    started = { emu, activities: emulatorActivities(emu) };
  });
  after(async () => {
    await started?.emu.close();
  });
  beforeEach(() => {
    started?.emu.emulator.faults.clear();
  });
  const get = () => {
    if (!started) throw new Error("the emulator starts in the test file's before()");
    return started;
  };
  return {
    get emu() {
      return get().emu;
    },
    get activities() {
      return get().activities;
    },
  };
}
