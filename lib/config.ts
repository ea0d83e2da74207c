/**
 * Environment parsing shared by every process (worker, API, start script, emulator).
 * Each process declares its variables once; `readEnv` checks them all and throws a single
 * `ConfigError` that names every bad variable, so an operator fixes the environment in one go.
 * Values of secret variables never appear in messages.
 */
import { isIP } from 'node:net';
import { parseDuration } from '../common/duration.js';

export interface ConfigProblem {
  variable: string;
  problem: string;
}

/** Thrown by `readEnv`: `problems` has one entry per bad variable, `message` lists them all. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.variable}: ${p.problem}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** How one variable is read: `raw` is undefined when the variable is unset or blank. */
export interface EnvVar<T> {
  readonly secret?: boolean;
  parse(raw: string | undefined): Parsed<T>;
}

export type EnvSpec = Record<string, EnvVar<unknown>>;
export type EnvValues<S extends EnvSpec> = { [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never };

interface Common<T> {
  /** Used when the variable is unset or blank. */
  default?: T;
  /** Never echo the value in problems (tokens, secrets). */
  secret?: boolean;
}
type Req<T, O extends Common<T>> = O extends { default: T }
  ? T
  : O extends { optional: true }
    ? T | undefined
    : T;

function shown(raw: string, secret: boolean | undefined): string {
  if (secret) return '';
  const text = raw.length > 60 ? `${raw.slice(0, 60)}…` : raw;
  return ` (got ${JSON.stringify(text)})`;
}

/**
 * A variable whose raw text is turned into a value by `convert` (which returns a problem string to
 * reject it). Unset: the default, else undefined when `optional`, else "is required".
 */
export function envVar<T, O extends Common<T> & { optional?: boolean }>(
  options: O,
  convert: (raw: string) => { value: T } | { problem: string },
): EnvVar<Req<T, O>> {
  return {
    secret: options.secret,
    parse(raw) {
      if (raw === undefined) {
        if (options.default !== undefined) return { ok: true, value: options.default as Req<T, O> };
        if (options.optional) return { ok: true, value: undefined as Req<T, O> };
        return { ok: false, problem: 'is required but not set' };
      }
      const result = convert(raw);
      if ('problem' in result) return { ok: false, problem: result.problem + shown(raw, options.secret) };
      return { ok: true, value: result.value as Req<T, O> };
    },
  };
}

/** Any non-blank string (trimmed). */
export function str<O extends Common<string> & { optional?: boolean }>(options: O = {} as O) {
  return envVar<string, O>(options, (raw) => ({ value: raw }));
}

/** An absolute http(s) URL; returned without a trailing slash. */
export function url<O extends Common<string> & { optional?: boolean }>(options: O = {} as O) {
  return envVar<string, O>(options, (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      return { problem: 'must be an absolute http(s) URL' };
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      return { problem: 'must be an absolute http(s) URL' };
    }
    return { value: raw.replace(/\/+$/, '') };
  });
}

/**
 * One of a fixed set of lower-case words, in any letter case (`EU` is `eu`), as LOG_LEVEL is read:
 * refusing a capitalised word nobody could mean otherwise would only cost the operator a restart.
 */
export function oneOf<const V extends string, O extends Common<V> & { optional?: boolean }>(
  values: readonly V[],
  options: O = {} as O,
) {
  return envVar<V, O>(options, (raw) => {
    const word = raw.toLowerCase();
    return (values as readonly string[]).includes(word)
      ? { value: word as V }
      : { problem: `must be one of ${values.join(', ')} (any letter case)` };
  });
}

/**
 * Decimal digits with an optional fraction, nothing else. `Number()` alone would also take `0x10`,
 * `1e3` and `Infinity`, which nobody means in a setting.
 */
const DECIMAL = /^\s*(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*$/;

/** Decimal digits only: a whole number as `DECIMAL` reads one. */
const DIGITS = /^\s*[0-9]+\s*$/;

/** An integer ≥ `min` (default 1), written in decimal digits. */
export function wholeNumber<O extends { default: number }>(options: O, min = 1) {
  return envVar<number, O>(options, (raw) => {
    const n = Number(raw);
    return DIGITS.test(raw) && Number.isSafeInteger(n) && n >= min
      ? { value: n }
      : { problem: `must be a whole number ≥ ${min}` };
  });
}

/** A number > 0 written in decimal (fractions allowed). */
export function positiveNumber<O extends Common<number> & { optional?: boolean }>(options: O = {} as O) {
  return envVar<number, O>(options, (raw) => {
    const n = Number(raw);
    return DECIMAL.test(raw) && n > 0 ? { value: n } : { problem: 'must be a positive decimal number' };
  });
}

/**
 * A duration such as `30s` or `2m` (whitespace around it forgiven), in milliseconds, at most `max`;
 * both the default and the maximum are written as durations, and the problem shows `examples`.
 */
export function duration(options: { default: string; max: string; examples: string }) {
  const maxMs = parseDuration(options.max) as number;
  return envVar<number, { default: number }>({ default: parseDuration(options.default) as number }, (raw) => {
    const ms = parseDuration(raw);
    // A zero has the right form; saying "a duration such as 30s" would not tell what is wrong.
    if (ms === undefined && /^0+[smhd]$/.test(raw.trim())) return { problem: 'must be at least 1s' };
    if (ms === undefined) return { problem: `must be a duration such as ${options.examples}` };
    if (ms > maxMs) return { problem: `must be at most ${options.max}` };
    return { value: ms };
  });
}

/** A TCP port, 1..65535 (0 when `allowZero`, meaning "any free port"). */
export function port<O extends Common<number> & { optional?: boolean; allowZero?: boolean }>(
  options: O = {} as O,
) {
  return envVar<number, O>(options, (raw) => {
    const n = Number(raw);
    const min = options.allowZero ? 0 : 1;
    return /^[0-9]+$/.test(raw) && n >= min && n <= 65535
      ? { value: n }
      : { problem: `must be a port number (${min}-65535)` };
  });
}

/** A host name as resolvers take it: labels of letters, digits, `-` and `_` (Docker's names), a final dot allowed. */
const HOST_NAME =
  /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/** An interface to listen on: an IP address, or a host name such as `localhost`. */
export function listenHost<O extends Common<string> & { optional?: boolean }>(options: O = {} as O) {
  return envVar<string, O>(options, (raw) =>
    isIP(raw) !== 0 || HOST_NAME.test(raw)
      ? { value: raw }
      : { problem: 'must be an IP address or a host name, e.g. 127.0.0.1 or 0.0.0.0' },
  );
}

/** An interface to listen on given as an IP address: the SDK core's metrics exporter takes no names. */
export function listenIp<O extends Common<string> & { optional?: boolean }>(options: O = {} as O) {
  return envVar<string, O>(options, (raw) =>
    isIP(raw) !== 0 ? { value: raw } : { problem: 'must be an IP address, e.g. 0.0.0.0, 127.0.0.1 or ::' },
  );
}

/** `host:port`, as Temporal addresses are written. */
export function hostPort<O extends Common<string> & { optional?: boolean }>(options: O = {} as O) {
  return envVar<string, O>(options, (raw) => {
    const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})$/.exec(raw);
    const p = match ? Number(match[2]) : 0;
    return match && p >= 1 && p <= 65535
      ? { value: raw }
      : { problem: 'must be host:port, e.g. localhost:7233' };
  });
}

/**
 * Reads every variable of `spec` from `env`, treating blank values as unset.
 * Throws one `ConfigError` naming each bad variable; returns the typed values otherwise.
 */
export function readEnv<S extends EnvSpec>(
  spec: S,
  env: Record<string, string | undefined> = process.env,
): EnvValues<S> {
  const values: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [name, variable] of Object.entries(spec)) {
    const rawValue = env[name]?.trim();
    const result = variable.parse(rawValue === '' ? undefined : rawValue);
    if (result.ok) values[name] = result.value;
    else problems.push({ variable: name, problem: result.problem });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as EnvValues<S>;
}

/**
 * A server's failed `listen` as a ConfigError naming the variable behind it (a port another process
 * holds, a host this machine has no address for), so the operator reads which setting to change
 * rather than a stack trace. Any other error comes back as it is.
 */
export function listenError(
  error: unknown,
  where: { port: number; portVariable: string; host?: string; hostVariable?: string },
): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const hostVariable = where.hostVariable ?? where.portVariable;
  const host = where.host ?? 'every interface';
  const problem = (variable: string, text: string) => new ConfigError([{ variable, problem: text }]);
  if (code === 'EADDRINUSE')
    return problem(where.portVariable, `port ${where.port} is already in use on ${host}`);
  if (code === 'EACCES')
    return problem(where.portVariable, `port ${where.port} needs privileges this process lacks`);
  if (code === 'EADDRNOTAVAIL') return problem(hostVariable, `${host} is not an address of this machine`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return problem(hostVariable, `${host} does not resolve`);
  return error;
}

/**
 * For a process entry point: on a `ConfigError`, prints its message to stderr and exits with code 1;
 * rethrows anything else.
 */
export function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

/**
 * For an entry point configured by its environment alone (`npm start`, the worker, the API, the
 * emulator): an argument such as `--help` or `--port 3001` would be ignored without a word, and the
 * process would start as if it had none. It stops instead (exit 2; `--help`: 0), saying where the
 * settings are.
 */
export function refuseArguments(command: string, args: string[] = process.argv.slice(2)): void {
  if (args.length === 0) return;
  const help = args.some((arg) => arg === '--help' || arg === '-h');
  const text =
    `${command} takes no arguments${help ? '' : ` (got ${args.join(' ')})`}: it is configured by ` +
    'environment variables, listed in README.md, "Configuration"\n';
  (help ? process.stdout : process.stderr).write(text);
  process.exit(help ? 0 : 2);
}
