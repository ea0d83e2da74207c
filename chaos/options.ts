/** Command line of `npm run chaos`. */
import { parseArgs } from 'node:util';
import { UsageError } from '../lib/command-line.js';

// Tests and callers catch it from here, beside the parser that throws it.
export { UsageError };

export interface ChaosOptions {
  seed: number;
  quick: boolean;
  /** Scenario names to run; empty: all (or the quick subset). */
  scenarios: string[];
  list: boolean;
  /** Keep the run folder (logs, databases) even when everything passed. */
  keep: boolean;
}

export const USAGE = `npm run chaos -- [--quick] [--seed N] [--scenario NAME]... [--list] [--keep]
  --quick          the CI subset, with fewer sagas and shorter outages and storms
  --seed N         seeds every random choice (default: from the clock, printed)
  --scenario NAME  run only this scenario (repeat, or separate names with commas)
  --list           list the scenarios and exit
  --keep           keep the run folder (process logs, Temporal database, emulator state)
  --help           this text`;

/** Parses argv: 'help' for --help; throws a UsageError naming a flag it refuses. */
export function parseOptions(argv: string[]): ChaosOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seed: { type: 'string' },
        quick: { type: 'boolean', default: false },
        scenario: { type: 'string', multiple: true, default: [] },
        list: { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  // Digits only: Number() would also take '' (0), 1e3 and 0x10.
  const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
  if (values.seed !== undefined && (!/^[0-9]+$/.test(values.seed) || !Number.isSafeInteger(seed)))
    throw new UsageError(`--seed must be a whole number, got ${JSON.stringify(values.seed)}`);
  const scenarios = values.scenario.flatMap((s) => s.split(',').map((name) => name.trim()));
  // An empty name (a shell variable that was unset) would otherwise mean "every scenario".
  if (scenarios.some((name) => name === ''))
    throw new UsageError(
      `--scenario needs a scenario name, got ${JSON.stringify(values.scenario.join(','))}`,
    );
  return { seed, quick: values.quick, scenarios, list: values.list, keep: values.keep };
}
