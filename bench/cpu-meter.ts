/**
 * Where a phase's CPU went: the core-seconds each of the run's processes used, read from /proc, and
 * how busy the whole machine was. A timing from a machine whose CPUs were all busy measures the
 * machine as much as the code, and this says which it was. Linux only: without /proc every figure
 * is absent and the report leaves the line out.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { procStatFields } from '../dev/proc-stat.js';

/** The processes a phase is charged to, by the name the report gives them. */
export type CpuProcesses = Record<string, readonly number[]>;

export interface CpuMark {
  at: number;
  /** Jiffies the machine spent busy and in all, summed over its CPUs (/proc/stat). */
  machine?: { busy: number; total: number };
  /** Each process's user + system time in seconds, summed over the pids of its name. */
  seconds: Record<string, number | undefined>;
}

export interface CpuPhase {
  wallS: number;
  /** Share of all the machine's CPU time that was busy, 0–1, whoever used it. */
  machineBusy?: number;
  /** Core-seconds each named process used over the phase. */
  coreSeconds: Record<string, number>;
  /** The machine's busy share second by second: seconds since the phase's start, percent. */
  busyBySecond?: { s: number; pct: number }[];
}

let ticksPerSecond: number | undefined;

/** The kernel's clock ticks per second (`getconf CLK_TCK`), which /proc's times count in. */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system seconds of `pid` (all its threads), or undefined once it is gone or off Linux. */
export function processSeconds(pid: number): number | undefined {
  const fields = procStatFields(pid);
  const utime = Number(fields?.[11]);
  const stime = Number(fields?.[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / clockTicks();
}

/** The machine's busy and total jiffies from the first line of /proc/stat's text. */
export function parseMachineTimes(procStat: string): CpuMark['machine'] {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map((v) => Number(v) || 0);
  const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  return { busy, total: busy + (idle ?? 0) + (iowait ?? 0) };
}

/** The machine's busy and total jiffies now; undefined without /proc. */
export function readMachineTimes(): CpuMark['machine'] {
  try {
    return parseMachineTimes(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** Reads the machine's and each named process's CPU times now. */
export function markCpu(processes: CpuProcesses): CpuMark {
  const seconds: CpuMark['seconds'] = {};
  for (const [name, pids] of Object.entries(processes)) {
    const each = pids.map(processSeconds);
    seconds[name] = each.some((v) => v === undefined)
      ? undefined
      : each.reduce<number>((a, v) => a + (v ?? 0), 0);
  }
  return { at: Date.now(), machine: readMachineTimes(), seconds };
}

const r1 = (v: number) => Math.round(v * 10) / 10;

/** What was used between two marks; a process missing from either mark is left out. */
export function cpuBetween(from: CpuMark, to: CpuMark): CpuPhase {
  const coreSeconds: Record<string, number> = {};
  for (const [name, end] of Object.entries(to.seconds)) {
    const start = from.seconds[name];
    if (start !== undefined && end !== undefined) coreSeconds[name] = r1(end - start);
  }
  const phase: CpuPhase = { wallS: r1((to.at - from.at) / 1000), coreSeconds };
  const busy = busyShare(from.machine, to.machine);
  if (busy !== undefined) phase.machineBusy = Math.round(busy * 100) / 100;
  return phase;
}

/** The share (0–1) of the machine's CPU time between two readings that was busy. */
export function busyShare(from: CpuMark['machine'], to: CpuMark['machine']): number | undefined {
  if (!from || !to || to.total <= from.total) return undefined;
  return (to.busy - from.busy) / (to.total - from.total);
}
