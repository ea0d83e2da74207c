/** Command line of `npm run chaos`. */
import { parseArgs } from 'node:util';

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
  --keep           keep the run folder (process logs, Temporal database, emulator state)`;

/** Parses argv; throws with the usage on anything unknown. */
export function parseOptions(argv: string[]): ChaosOptions {
  const { values } = parseArgs({
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
  });
  if (values.help) throw new Error(USAGE);
  const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a whole number\n${USAGE}`);
  return {
    seed,
    quick: values.quick,
    scenarios: values.scenario.flatMap((s) => s.split(',')).filter(Boolean),
    list: values.list,
    keep: values.keep,
  };
}
