/**
 * Auth and config values of an instance: checked against the solution's slots before anything is
 * written, so a rejected mutation changes nothing, then merged over the values the instance has.
 */
import { trayError } from './errors.js';
import type { ConfigSlotValueRecord, SlotValue, SolutionSeed } from './records.js';
import type { EmulatorStore } from './store.js';

export interface ConfigValueInput {
  externalId: string;
  value?: unknown;
}

/** Refuses auth values as Tray does: a slot the solution lacks, an unknown authId, another user's auth. */
export function checkAuthValues(
  store: EmulatorStore,
  solution: SolutionSeed,
  owner: string,
  values: SlotValue[],
): void {
  for (const v of values) {
    if (!solution.authSlots.some((s) => s.externalId === v.externalId)) {
      throw trayError('bad_request', `Solution ${solution.id} has no auth slot '${v.externalId}'`);
    }
    const auth = store.authentications.get(v.authId);
    if (!auth) throw trayError('not_found', `Authentication ${v.authId} not found`);
    if (auth.owner !== owner)
      throw trayError('forbidden', `Authentication ${v.authId} belongs to another user`);
  }
}

/** Refuses config values the solution has no slot for, with the error Tray gives. */
export function checkConfigValues(solution: SolutionSeed, values: ConfigValueInput[]): void {
  const slots = solution.configSlots ?? [];
  if (values.length > 0 && slots.length === 0) {
    throw trayError('bad_request', `Solution ${solution.id} has no config slots (auth-only)`);
  }
  for (const v of values) {
    if (!slots.some((s) => s.externalId === v.externalId)) {
      throw trayError('bad_request', `Solution ${solution.id} has no config slot '${v.externalId}'`);
    }
    if (v.value != null && !isJsonText(v.value)) {
      throw trayError('bad_request', `Config value for '${v.externalId}' must be a JSON-encoded string`);
    }
  }
}

/** Config values as the store keeps them (a missing value is null). */
export function configRecords(values: ConfigValueInput[]): ConfigSlotValueRecord[] {
  return values.map((v) => ({ externalId: v.externalId, value: v.value ?? null }));
}

/** `current` with each of `updates` replacing the value of its slot. */
export function merge<T extends { externalId: string }>(current: T[], updates: T[]): T[] {
  const byId = new Map(current.map((v) => [v.externalId, v]));
  for (const u of updates) byId.set(u.externalId, { ...u });
  return [...byId.values()];
}

/** The slots of `solution` an enable would leave without a value. */
export function missingSlots(
  solution: SolutionSeed,
  authValues: SlotValue[],
  configValues: ConfigSlotValueRecord[],
): string[] {
  return [
    ...solution.authSlots.filter((s) => !authValues.some((v) => v.externalId === s.externalId)),
    ...(solution.configSlots ?? []).filter(
      (s) => configValues.find((v) => v.externalId === s.externalId)?.value == null,
    ),
  ].map((s) => s.externalId);
}

function isJsonText(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}
