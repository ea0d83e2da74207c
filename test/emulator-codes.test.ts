/**
 * The emulator forgets the longest-spent one-time codes beyond a bound, and the oldest unused ones
 * beyond another, so its state (and state file) stops growing with every dialog completed and every
 * URL reissued; users' data is never dropped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEMO_SOLUTIONS } from '../emulator/records.js';
import { EmulatorStore } from '../emulator/store.js';

function storeWithClock(): { store: EmulatorStore; tick: () => void } {
  let now = 1_000_000;
  const store = new EmulatorStore(DEMO_SOLUTIONS, 60_000, () => now);
  return { store, tick: () => void (now += 1) };
}

/** Mints and spends `count` codes for the user, one clock tick apart; answers them in spending order. */
function spendCodes(store: EmulatorStore, tick: () => void, userId: string, count: number): string[] {
  return Array.from({ length: count }, () => {
    const code = store.mintCode(userId);
    tick();
    store.spendCode(code);
    return code;
  });
}

describe('emulator one-time codes', () => {
  test('spent codes beyond spentCodeLimit are forgotten, longest-spent first', () => {
    const { store, tick } = storeWithClock();
    store.spentCodeLimit = 3;
    const user = store.createUser('ext-1', 'One')!;
    const spent = spendCodes(store, tick, user.id, 10);
    assert.deepEqual(
      spent.filter((c) => store.codes.has(c)),
      spent.slice(-3),
    );
    assert.equal(store.exportState().codes.length, 3, 'the state file holds only what is kept');
    assert.ok(store.codes.get(spent[9]!)?.usedAt !== undefined, 'a recent reuse still reads as used');
  });

  test('unused codes, users, instances and authentications are not pruned with spent ones', () => {
    const { store, tick } = storeWithClock();
    store.spentCodeLimit = 1;
    const user = store.createUser('ext-1', 'One')!;
    const instance = store.createInstance(user.id, DEMO_SOLUTIONS[0]!, 'mine');
    const authId = store.createAuthentication(user.id, 'slack');
    const unused = Array.from({ length: 5 }, () => store.mintCode(user.id));
    spendCodes(store, tick, user.id, 5);
    for (const c of unused) assert.equal(store.codes.get(c)?.usedAt, undefined);
    assert.equal(store.codes.size, 6);
    assert.ok(store.users.has(user.id));
    assert.ok(store.instances.has(instance.id));
    assert.ok(store.authentications.has(authId));
  });

  test('a state file with more spent codes than the bound is pruned on load, unused ones kept', () => {
    const { store, tick } = storeWithClock();
    const user = store.createUser('ext-1', 'One')!;
    const spent = spendCodes(store, tick, user.id, 6);
    const unused = store.mintCode(user.id);
    const state = store.exportState();
    // Spent out of mint order: the bound keeps the most recently spent, whatever their position.
    state.codes.reverse();

    const loaded = storeWithClock().store;
    loaded.spentCodeLimit = 2;
    loaded.importState(state);
    assert.deepEqual([...loaded.codes.keys()].sort(), [unused, ...spent.slice(-2)].sort());
  });

  // Each reissue leaves the slot's previous code unused: nothing else would ever drop it.
  test('unused codes beyond unusedCodeLimit are forgotten, oldest minted first; a spent one no longer counts', () => {
    const { store, tick } = storeWithClock();
    store.unusedCodeLimit = 3;
    const user = store.createUser('ext-1', 'One')!;
    const minted = Array.from({ length: 5 }, () => {
      tick();
      return store.mintCode(user.id);
    });
    assert.deepEqual([...store.codes.keys()], minted.slice(-3));
    store.spendCode(minted[2]!);
    const next = store.mintCode(user.id);
    assert.deepEqual([...store.codes.keys()], [...minted.slice(-3), next], 'the spent one is kept as spent');

    // A state file holding more unused codes than the bound: the most recently minted are kept.
    const state = store.exportState();
    state.codes.reverse();
    const loaded = storeWithClock().store;
    loaded.unusedCodeLimit = 2;
    loaded.importState(state);
    const unusedKept = [...loaded.codes].filter(([, c]) => c.usedAt === undefined).map(([code]) => code);
    assert.deepEqual(unusedKept.sort(), [minted[4]!, next].sort());
  });

  test('removing a user forgets its spent codes from the bound too', () => {
    const { store, tick } = storeWithClock();
    store.spentCodeLimit = 2;
    const a = store.createUser('ext-a', 'A')!;
    const b = store.createUser('ext-b', 'B')!;
    tick();
    store.spendCode(store.mintCode(a.id));
    store.removeUser(a.id);
    const kept: string[] = [];
    for (let i = 0; i < 2; i++) {
      const code = store.mintCode(b.id);
      tick();
      store.spendCode(code);
      kept.push(code);
    }
    assert.deepEqual([...store.codes.keys()].sort(), kept.sort());
  });
});
