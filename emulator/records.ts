/**
 * The emulator's records: what it keeps of Tray's solutions, users, solution instances,
 * authentications and one-time codes, and the demo solutions it serves unless told otherwise.
 * `store.ts` holds them.
 */

/** A solution the emulator serves; auth slots are what the dialog page can authorise. */
export interface SolutionSeed {
  id: string;
  title: string;
  authSlots: { externalId: string; serviceName: string; serviceTitle: string }[];
  configSlots?: { externalId: string; title: string; defaultValue: unknown }[];
}

/** sol-1: one Slack slot; sol-2: Salesforce and Slack. Neither has config slots (auth-only dialog). */
export const DEMO_SOLUTIONS: SolutionSeed[] = [
  {
    id: 'sol-1',
    title: 'Slack alerts',
    authSlots: [{ externalId: 'slack', serviceName: 'slack', serviceTitle: 'Slack' }],
  },
  {
    id: 'sol-2',
    title: 'Salesforce to Slack',
    authSlots: [
      { externalId: 'salesforce', serviceName: 'salesforce', serviceTitle: 'Salesforce' },
      { externalId: 'slack', serviceName: 'slack', serviceTitle: 'Slack' },
    ],
  },
];

export interface UserRecord {
  id: string;
  name: string;
  externalUserId: string;
}

export interface SlotValue {
  externalId: string;
  authId: string;
}

export interface ConfigSlotValueRecord {
  externalId: string;
  value: unknown;
}

export interface InstanceRecord {
  id: string;
  name: string;
  owner: string;
  solutionId: string;
  created: Date;
  enabled: boolean;
  authValues: SlotValue[];
  configValues: ConfigSlotValueRecord[];
}

export interface AuthenticationRecord {
  id: string;
  owner: string;
  name: string;
  serviceName: string;
  serviceTitle: string;
  created: Date;
}

export interface CodeRecord {
  userId: string;
  createdAt: number;
  usedAt?: number;
}
