/**
 * Linux's `/proc/<pid>/stat`, split after the command name. The name sits in parentheses and may
 * hold spaces and parentheses of its own, so the fields are counted from its last `)`. Index 0 is
 * the state, 1 the parent's pid, 2 the process group, 11 and 12 user and system time in clock ticks
 * (proc(5)'s fields 3 onwards). Undefined where the file cannot be read: the process is gone, or the
 * system has no /proc.
 */
import { readFileSync } from 'node:fs';

/** The fields of `pid`'s stat line after its command name; see the file comment. */
export function procStatFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
