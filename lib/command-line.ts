/** The bench's and the chaos suite's shared handling of their command lines. */

/** A command line the program refuses: printed above the usage, exit code 2. */
export class UsageError extends Error {}

/**
 * Parses the program's arguments with `parse`. `--help` prints `usage` on stdout (exit code 0); a
 * UsageError prints its message and the usage on stderr (exit code 2); anything else is thrown.
 */
export function readCommandLine<T>(
  parse: (argv: string[]) => T | 'help',
  usage: string,
  argv: string[] = process.argv.slice(2),
): { options: T } | { exitCode: number } {
  let options: T | 'help';
  try {
    options = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${usage}\n`);
    return { exitCode: 2 };
  }
  if (options === 'help') {
    process.stdout.write(`${usage}\n`);
    return { exitCode: 0 };
  }
  return { options };
}
