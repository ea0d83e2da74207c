/**
 * What a valid connect input is: the one rule set (docs/design.md). The API's zod schema runs
 * it before anything else, and the workflow runs it again because a saga can be started straight
 * through Temporal. Workflow-safe: no zod, no Node built-ins.
 */
import { authTimeoutProblem } from './duration.js';
import { LIMITS } from './messages.js';

/** One broken rule: where (`['authSlots', 2]`; `[]` is the input itself) and what. */
export interface InputProblem {
  path: (string | number)[];
  message: string;
}

const INPUT_KEYS = [
  'externalUserId',
  'userName',
  'solutionId',
  'instanceName',
  'authSlots',
  'configValues',
  'authTimeout',
];
const CONFIG_VALUE_KEYS = ['externalId', 'value'];

// Ids end up in workflow ids and Keyword search attributes: PostgreSQL visibility refuses NUL, and a
// lone surrogate has no UTF-8 encoding. With the u flag, \p{Cs} matches only a surrogate without
// its pair: an emoji's pair is one code point.
const FORBIDDEN_CHARACTER = /[\p{Cc}\p{Cs}]/u;

/** The control characters (Unicode's Cc: U+0000..U+001F, U+007F..U+009F) as a class's contents. */
const CONTROL_RANGES = '\\x00-\\x1f\\x7f-\\x9f';

/**
 * A JSON Schema `pattern` for an id without control characters (nor any of `forbidden`, which must
 * need no escaping in a class). Written for every common regex dialect (ECMA without the u flag,
 * Python, Java, Go's RE2), so generated clients and validators can use it; no dialect's pattern can
 * name a lone surrogate portably, so `idProblem` checks those in code.
 */
export function idPattern(forbidden = ''): string {
  return `^[^${CONTROL_RANGES}${forbidden}]*$`;
}

/** The words for an id holding a character no id may hold. */
export const forbiddenCharacterMessage = (what: string) =>
  `${what} must not contain control characters or lone surrogates`;

/** True when `value` holds a character no id may hold. */
export const hasForbiddenCharacter = (value: string) => FORBIDDEN_CHARACTER.test(value);

/** Why `value` holds a character no id may hold; `undefined` when it holds none. */
function forbiddenCharacterProblem(what: string, value: string): string | undefined {
  return hasForbiddenCharacter(value) ? forbiddenCharacterMessage(what) : undefined;
}

/**
 * Characters as the rules count them: code points, so an emoji is one, as zod counts them for the
 * webhook and path ids. Stops counting past `limit`.
 */
export function characterCount(value: string, limit = Infinity): number {
  let count = 0;
  for (const _ of value) if (++count > limit) break;
  return count;
}

/** Why `value` is not a valid id or name (`what` names it in the message); `undefined` when it is. */
export function idProblem(what: string, value: unknown): string | undefined {
  if (value === undefined) return `${what} is required`;
  if (typeof value !== 'string') return `${what} must be a string`;
  if (value.length === 0) return `${what} must not be empty`;
  if (characterCount(value, LIMITS.maxIdLength) > LIMITS.maxIdLength)
    return `${what} must be at most ${LIMITS.maxIdLength} characters`;
  return forbiddenCharacterProblem(what, value);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** True for what JSON can carry. Walks with an explicit stack, so deep values cannot overflow it. */
function isJsonValue(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number' && Number.isFinite(v)) continue;
    if (Array.isArray(v)) pending.push(...(v as unknown[]));
    // toString rather than a prototype check: the workflow sandbox has its own Object.prototype.
    else if (Object.prototype.toString.call(v) === '[object Object]')
      pending.push(...Object.values(v as object));
    else return false;
  }
  return true;
}

function unknownKeys(
  value: Record<string, unknown>,
  known: string[],
  where: string,
  path: InputProblem['path'],
) {
  return Object.keys(value)
    .filter((key) => !known.includes(key))
    .map((key) => ({ path, message: `${where} has an unknown key ${JSON.stringify(key)}` }));
}

/** A problem for each entry whose key an earlier entry already had. */
function duplicates(keys: unknown[], problem: (index: number, key: string) => InputProblem): InputProblem[] {
  const seen = new Set<string>();
  return keys.flatMap((key, index) => {
    if (typeof key !== 'string') return [];
    const repeated = seen.has(key);
    seen.add(key);
    return repeated ? [problem(index, key)] : [];
  });
}

/**
 * A slot is a segment of its dialog URL's path, and a browser resolves `.` and `..` there (also
 * percent-encoded) before it asks for the page: the dialog for such a slot could never open.
 */
const DOT_SEGMENT = /^\.\.?$/;

function authSlotProblems(slots: unknown, dotSlots = false): InputProblem[] {
  if (slots === undefined) return [{ path: ['authSlots'], message: 'authSlots is required' }];
  if (!Array.isArray(slots)) return [{ path: ['authSlots'], message: 'authSlots must be an array' }];
  const problems: InputProblem[] = [];
  if (slots.length < LIMITS.minSlots || slots.length > LIMITS.maxSlots) {
    const message = `authSlots must list ${LIMITS.minSlots} to ${LIMITS.maxSlots} slots`;
    problems.push({ path: ['authSlots'], message });
  }
  slots.forEach((slot, index) => {
    const message =
      idProblem(`authSlots[${index}]`, slot) ??
      (!dotSlots && typeof slot === 'string' && DOT_SEGMENT.test(slot)
        ? `authSlots[${index}] must not be "." or "..": its dialog URL would lead elsewhere`
        : undefined);
    if (message) problems.push({ path: ['authSlots', index], message });
  });
  return problems.concat(
    duplicates(slots, (index, slot) => ({
      path: ['authSlots', index],
      message: `authSlots must be unique: ${JSON.stringify(slot)} is listed twice`,
    })),
  );
}

function configValueProblems(values: unknown): InputProblem[] {
  if (values === undefined) return [];
  if (!Array.isArray(values)) return [{ path: ['configValues'], message: 'configValues must be an array' }];
  const problems = values.flatMap((entry: unknown, index): InputProblem[] => {
    const where = `configValues[${index}]`;
    if (!isPlainObject(entry))
      return [{ path: ['configValues', index], message: `${where} must be an object` }];
    const found: InputProblem[] = [];
    const idMessage = idProblem(`${where}.externalId`, entry.externalId);
    if (idMessage) found.push({ path: ['configValues', index, 'externalId'], message: idMessage });
    if (entry.value === undefined) {
      found.push({ path: ['configValues', index, 'value'], message: `${where}.value is required` });
    } else if (!isJsonValue(entry.value)) {
      found.push({ path: ['configValues', index, 'value'], message: `${where}.value must be a JSON value` });
    }
    return found.concat(unknownKeys(entry, CONFIG_VALUE_KEYS, where, ['configValues', index]));
  });
  const ids = values.map((entry: unknown) => (isPlainObject(entry) ? entry.externalId : undefined));
  return problems.concat(
    duplicates(ids, (index, id) => ({
      path: ['configValues', index, 'externalId'],
      message: `configValues must name each config slot once: ${JSON.stringify(id)} is listed twice`,
    })),
  );
}

/** How `checkConnectInput` judges an input; the default is the API's rule for new input. */
export interface CheckOptions {
  /**
   * Forgive whitespace around `authTimeout`, as the API did before it held new input to the
   * documented pattern: the workflow keeps doing so, so sagas started back then replay as they ran.
   */
  lenientDuration?: boolean;
  /** Take `.` and `..` as slots, as the workflow did before the API refused them (same reason). */
  dotSlots?: boolean;
}

/** Every way `input` breaks the input rules, each with its path; empty when it is a valid input. */
export function checkConnectInput(input: unknown, options: CheckOptions = {}): InputProblem[] {
  if (!isPlainObject(input)) return [{ path: [], message: 'the input must be an object' }];
  const problems: InputProblem[] = [];
  const id = (field: string, optional = false) => {
    if (optional && input[field] === undefined) return;
    const message = idProblem(field, input[field]);
    if (message) problems.push({ path: [field], message });
  };
  id('externalUserId');
  id('userName');
  id('solutionId');
  id('instanceName', true);
  // The connection id joins externalUserId and solutionId with ':'; without one in solutionId it
  // names exactly one pair, also after an earlier saga closed (docs/design.md).
  if (typeof input.solutionId === 'string' && input.solutionId.includes(':')) {
    problems.push({ path: ['solutionId'], message: "solutionId must not contain ':'" });
  }
  problems.push(
    ...authSlotProblems(input.authSlots, options.dotSlots),
    ...configValueProblems(input.configValues),
  );
  if (input.authTimeout !== undefined) {
    const problem =
      typeof input.authTimeout === 'string'
        ? authTimeoutProblem(input.authTimeout, options.lenientDuration)
        : 'must be a string';
    if (problem) problems.push({ path: ['authTimeout'], message: `authTimeout ${problem}` });
  }
  return problems.concat(unknownKeys(input, INPUT_KEYS, 'the input', []));
}

/** The messages of `checkConnectInput`, for the workflow's `InvalidInput` failure (its older rules). */
export function connectInputProblems(input: unknown): string[] {
  return checkConnectInput(input, { lenientDuration: true, dotSlots: true }).map((p) => p.message);
}
