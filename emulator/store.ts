/**
 * The emulator's state in memory: the records (`records.ts`) keyed by id, the user tokens kept
 * apart from them, the bounds on one-time codes, and what survives a restart (`state-file.ts`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { DEFAULT_SPENT_CODE_LIMIT, DEFAULT_UNUSED_CODE_LIMIT, forgetOldest } from './code-order.js';
import type {
  AuthenticationRecord,
  CodeRecord,
  InstanceRecord,
  SolutionSeed,
  UserRecord,
} from './records.js';
import { defaultModes, type EmulatorModes } from './user-modes.js';

interface UserTokenRecord {
  userId: string;
  expiresAt: number;
}

/**
 * The part of the store that survives a restart (state-file.ts writes it). User tokens are left out
 * on purpose: they are secrets, and a client whose token is refused mints a new one with `authorize`.
 */
export interface StoreState {
  users: UserRecord[];
  instances: InstanceRecord[];
  authentications: AuthenticationRecord[];
  codes: (CodeRecord & { code: string })[];
}

/** All of the emulator's state, in memory. Maps are public so tests can inspect them directly. */
export class EmulatorStore {
  readonly solutions = new Map<string, SolutionSeed>();
  readonly users = new Map<string, UserRecord>();
  readonly instances = new Map<string, InstanceRecord>();
  readonly authentications = new Map<string, AuthenticationRecord>();
  /** One-time authorization codes, keyed by the code. */
  readonly codes = new Map<string, CodeRecord>();
  /** How many spent codes (the most recently spent) and unused ones (most recently minted) it keeps. */
  spentCodeLimit = DEFAULT_SPENT_CODE_LIMIT;
  unusedCodeLimit = DEFAULT_UNUSED_CODE_LIMIT;
  // Spent codes, oldest spend first, and unused ones, oldest mint first: what to forget first.
  readonly #spent = new Set<string>();
  readonly #unused = new Set<string>();
  /** Answers where Tray is silent, set by tests through `PUT /_emulator/modes`. */
  modes: EmulatorModes = defaultModes();
  // Kept apart from the readable maps: user tokens are secrets and must not leak into /_emulator/state.
  readonly #userTokens = new Map<string, UserTokenRecord>();

  constructor(
    solutions: SolutionSeed[],
    private readonly userTokenTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    for (const s of solutions) this.solutions.set(s.id, s);
  }

  findUserByExternalId(externalUserId: string): UserRecord | undefined {
    for (const u of this.users.values()) if (u.externalUserId === externalUserId) return u;
    return undefined;
  }

  /**
   * Returns undefined when a user with that externalUserId exists already (the caller reports it),
   * unless `allowDuplicate`: then a second user with the same externalUserId is made.
   */
  createUser(externalUserId: string, name: string, allowDuplicate = false): UserRecord | undefined {
    if (!allowDuplicate && this.findUserByExternalId(externalUserId)) return undefined;
    const user = { id: unusedKey(this.users, randomUUID), name, externalUserId };
    this.users.set(user.id, user);
    return user;
  }

  /** Removes the user with everything it owns, as Tray does. */
  removeUser(userId: string): boolean {
    if (!this.users.delete(userId)) return false;
    for (const [id, i] of this.instances) if (i.owner === userId) this.instances.delete(id);
    for (const [id, a] of this.authentications) if (a.owner === userId) this.authentications.delete(id);
    for (const [code, c] of this.codes) if (c.userId === userId) this.#forgetCode(code);
    for (const [token, t] of this.#userTokens) if (t.userId === userId) this.#userTokens.delete(token);
    return true;
  }

  mintUserToken(userId: string): string {
    const token = `ut_${randomBytes(24).toString('base64url')}`;
    this.#userTokens.set(token, { userId, expiresAt: this.now() + this.userTokenTtlMs });
    return token;
  }

  /** The user a token belongs to, or undefined when unknown or expired. */
  userForToken(token: string): string | undefined {
    const t = this.#userTokens.get(token);
    if (!t) return undefined;
    if (t.expiresAt <= this.now()) {
      this.#userTokens.delete(token);
      return undefined;
    }
    return this.users.has(t.userId) ? t.userId : undefined;
  }

  mintCode(userId: string): string {
    // A repeated value would revive a spent code, so even a random clash is ruled out.
    const code = unusedKey(this.codes, () => randomBytes(16).toString('hex'));
    this.codes.set(code, { userId, createdAt: this.now() });
    this.#unused.add(code);
    this.#pruneCodes();
    return code;
  }

  /** Marks a code used, and forgets the longest-spent codes beyond `spentCodeLimit`. */
  spendCode(code: string): void {
    const record = this.codes.get(code);
    if (!record) return;
    record.usedAt = this.now();
    this.#unused.delete(code);
    this.#spent.delete(code);
    this.#spent.add(code);
    this.#pruneCodes();
  }

  #pruneCodes(): void {
    forgetOldest(this.#spent, this.spentCodeLimit, (c) => this.#forgetCode(c));
    forgetOldest(this.#unused, this.unusedCodeLimit, (c) => this.#forgetCode(c));
  }

  #forgetCode(code: string): void {
    this.codes.delete(code);
    this.#spent.delete(code);
    this.#unused.delete(code);
  }

  createInstance(owner: string, solution: SolutionSeed, name: string): InstanceRecord {
    const instance: InstanceRecord = {
      id: unusedKey(this.instances, randomUUID),
      name,
      owner,
      solutionId: solution.id,
      created: new Date(this.now()),
      enabled: false,
      authValues: [],
      configValues: (solution.configSlots ?? []).map((c) => ({
        externalId: c.externalId,
        value: JSON.stringify(c.defaultValue),
      })),
    };
    this.instances.set(instance.id, instance);
    return instance;
  }

  /**
   * Creates an authentication for `userId`, as the dialog page does, and returns its id.
   * `service` is a service name or an auth slot's externalId; the service title is looked up in the solutions.
   */
  createAuthentication(userId: string, service: string): string {
    let serviceName = service;
    let serviceTitle = service;
    for (const s of this.solutions.values()) {
      const slot = s.authSlots.find((a) => a.serviceName === service || a.externalId === service);
      if (slot) {
        serviceName = slot.serviceName;
        serviceTitle = slot.serviceTitle;
        break;
      }
    }
    const auth: AuthenticationRecord = {
      id: unusedKey(this.authentications, randomUUID),
      owner: userId,
      name: `${serviceTitle} account`,
      serviceName,
      serviceTitle,
      created: new Date(this.now()),
    };
    this.authentications.set(auth.id, auth);
    return auth.id;
  }

  /** A deep copy of everything that survives a restart (no user tokens). */
  exportState(): StoreState {
    return {
      users: [...this.users.values()].map((u) => ({ ...u })),
      instances: [...this.instances.values()].map(copyInstance),
      authentications: [...this.authentications.values()].map((a) => ({
        ...a,
        created: new Date(a.created),
      })),
      codes: [...this.codes].map(([code, c]) => ({ code, ...c })),
    };
  }

  /**
   * Replaces users, instances, authentications and codes with `state` (insertion order kept, so
   * paging behaves as before) and forgets every user token, as a restarted Tray-like server would.
   */
  importState(state: StoreState): void {
    this.users.clear();
    this.instances.clear();
    this.authentications.clear();
    this.codes.clear();
    this.#spent.clear();
    this.#unused.clear();
    this.#userTokens.clear();
    for (const u of state.users) this.users.set(u.id, { ...u });
    for (const i of state.instances) this.instances.set(i.id, copyInstance(i));
    for (const a of state.authentications)
      this.authentications.set(a.id, { ...a, created: new Date(a.created) });
    for (const { code, ...c } of state.codes) this.codes.set(code, { ...c });
    const spent = state.codes.filter((c) => c.usedAt !== undefined);
    spent.sort((a, b) => a.usedAt! - b.usedAt!);
    for (const { code } of spent) this.#spent.add(code);
    const unused = state.codes.filter((c) => c.usedAt === undefined);
    for (const { code } of unused.sort((a, b) => a.createdAt - b.createdAt)) this.#unused.add(code);
    // A file written before codes were bounded may hold many.
    this.#pruneCodes();
  }

  /** A JSON snapshot for GET /_emulator/state; codes appear without their values (they are credentials). */
  snapshot(): unknown {
    return {
      solutions: [...this.solutions.values()],
      users: [...this.users.values()],
      instances: [...this.instances.values()],
      authentications: [...this.authentications.values()],
      codes: [...this.codes.values()].map((c) => ({ userId: c.userId, used: c.usedAt !== undefined })),
    };
  }
}

function copyInstance(i: InstanceRecord): InstanceRecord {
  return {
    ...i,
    created: new Date(i.created),
    authValues: i.authValues.map((v) => ({ ...v })),
    configValues: i.configValues.map((v) => ({ ...v })),
  };
}

/** A fresh key from `make` that `map` does not hold yet. */
function unusedKey(map: Map<string, unknown>, make: () => string): string {
  for (;;) {
    const key = make();
    if (!map.has(key)) return key;
  }
}
