/** The bench's CPU figures: /proc read for a process and the machine, and the sums between marks. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  busyShare,
  cpuBetween,
  markCpu,
  parseMachineTimes,
  processSeconds,
  type CpuMark,
} from '../bench/cpu-meter.js';

const linux = process.platform === 'linux';

test('the machine is busy for user, nice, system, irq, softirq and steal; idle and iowait are not', () => {
  const text = 'cpu  100 5 20 300 7 1 2 3 0 0\ncpu0 50 2 10 150 3 0 1 1 0 0\nintr 1 2 3\n';
  assert.deepEqual(parseMachineTimes(text), { busy: 131, total: 438 });
  assert.equal(parseMachineTimes('intr 1 2 3\n'), undefined);
});

test(
  'a process that works for a while is charged for it; a pid that is gone reads as undefined',
  { skip: !linux },
  () => {
    const before = processSeconds(process.pid) as number;
    assert.equal(typeof before, 'number');
    // Work until /proc shows it (a deadline, not a duration: a busy machine may lend the CPU slowly).
    const deadline = Date.now() + 10_000;
    let after = before;
    let spin = 0;
    while (after - before < 0.05 && Date.now() < deadline) {
      for (let i = 0; i < 1_000_000; i++) spin += i % 7;
      after = processSeconds(process.pid) as number;
    }
    assert.ok(spin > 0);
    assert.ok(after - before >= 0.05, `spinning charged ${after - before} s`);
    assert.equal(processSeconds(2 ** 22 + 12345), undefined);
    const mark = markCpu({ self: [process.pid], gone: [process.pid, 2 ** 22 + 12345] });
    assert.equal(typeof mark.seconds.self, 'number');
    assert.equal(
      mark.seconds.gone,
      undefined,
      'a name with a vanished pid has no figure rather than a short one',
    );
    assert.ok(mark.machine && mark.machine.total >= mark.machine.busy && mark.machine.busy > 0);
  },
);

test('between two marks: each name that both hold, and the machine busy as a share of its time', () => {
  const from: CpuMark = {
    at: 1_000,
    machine: { busy: 100, total: 400 },
    seconds: { a: 1, b: 2, c: undefined },
  };
  const to: CpuMark = {
    at: 3_500,
    machine: { busy: 250, total: 600 },
    seconds: { a: 4.26, b: undefined, c: 3 },
  };
  assert.deepEqual(cpuBetween(from, to), { wallS: 2.5, coreSeconds: { a: 3.3 }, machineBusy: 0.75 });
  const noMachine = cpuBetween({ ...from, machine: undefined }, to);
  assert.equal(noMachine.machineBusy, undefined);
  // The per-second samples: no time passed (or a reading missing) is no figure, not a division by 0.
  assert.equal(busyShare({ busy: 10, total: 40 }, { busy: 40, total: 80 }), 0.75);
  assert.equal(busyShare({ busy: 10, total: 40 }, { busy: 10, total: 40 }), undefined);
  assert.equal(busyShare(undefined, { busy: 10, total: 40 }), undefined);
});
