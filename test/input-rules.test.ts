/**
 * One rule set for a connect input (issue 7): the API's zod schema and the workflow's guard run over
 * the same table of good and bad inputs, and agree on every case, down to the paths of the problems.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { problemsOf } from '../api/problems.js';
import { connectInputSchema } from '../api/schemas.js';
import { DURATION_PATTERN, parseDuration, parseExactDuration } from '../common/duration.js';
import { checkConnectInput, connectInputProblems, idPattern, idProblem } from '../common/input.js';

const VALID = { externalUserId: 'user-1', userName: 'Ada', solutionId: 'sol-1', authSlots: ['slack'] };
const slots = (n: number) => Array.from({ length: n }, (_, i) => `slot-${i}`);
const without = (field: keyof typeof VALID) => {
  const { [field]: _gone, ...rest } = VALID;
  return rest;
};

/** [name, input, path of a problem the case must report; undefined when the input is valid]. */
type Case = [string, unknown, string | undefined];
const with_ = (overrides: Record<string, unknown>) => ({ ...VALID, ...overrides });

const GOOD: Case[] = [
  ['the minimal input', VALID, undefined],
  [
    'every optional field',
    with_({
      instanceName: 'Slack for Ada',
      configValues: [
        { externalId: 'a', value: { nested: [1, null, 'x', true] } },
        { externalId: 'b', value: null },
      ],
      authTimeout: '7d',
    }),
    undefined,
  ],
  ['20 slots', with_({ authSlots: slots(20) }), undefined],
  ['200-character ids', with_({ externalUserId: 'u'.repeat(200), solutionId: 's'.repeat(200) }), undefined],
  // Characters are code points: an emoji is one, though JavaScript's length says two.
  [
    '200-emoji names and slots',
    with_({ userName: '😀'.repeat(200), authSlots: ['🔑'.repeat(200)] }),
    undefined,
  ],
  ['authTimeout 1s', with_({ authTimeout: '1s' }), undefined],
  ['authTimeout 30d', with_({ authTimeout: '30d' }), undefined],
  ['authTimeout 720h', with_({ authTimeout: '720h' }), undefined],
  ["a ':' in externalUserId", with_({ externalUserId: 'team:ada' }), undefined],
  ['a surrogate pair (emoji) in userName', with_({ userName: 'Ada 🚀' }), undefined],
  ['empty configValues', with_({ configValues: [] }), undefined],
];

const MISSING: Case[] = (['externalUserId', 'userName', 'solutionId', 'authSlots'] as const).map((field) => [
  `${field} missing`,
  without(field),
  field,
]);

const WRONG_TYPES: Case[] = [
  ['the input null', null, '(body)'],
  ['the input an array', [VALID], '(body)'],
  ['the input a string', 'connect me', '(body)'],
  ['externalUserId a number', with_({ externalUserId: 5 }), 'externalUserId'],
  ['userName null', with_({ userName: null }), 'userName'],
  ['solutionId a number', with_({ solutionId: 42 }), 'solutionId'],
  ['instanceName a number', with_({ instanceName: 7 }), 'instanceName'],
  ['instanceName null', with_({ instanceName: null }), 'instanceName'],
  ['authSlots a string', with_({ authSlots: 'slack' }), 'authSlots'],
  ['a slot a number', with_({ authSlots: [7] }), 'authSlots.0'],
  ['configValues an object', with_({ configValues: { a: 1 } }), 'configValues'],
  ['a config value a number', with_({ configValues: [5] }), 'configValues.0'],
  [
    'a config externalId a number',
    with_({ configValues: [{ externalId: 3, value: 1 }] }),
    'configValues.0.externalId',
  ],
  ['a config value without value', with_({ configValues: [{ externalId: 'c' }] }), 'configValues.0.value'],
  ['a config value without externalId', with_({ configValues: [{ value: 1 }] }), 'configValues.0.externalId'],
  ['authTimeout a number', with_({ authTimeout: 5 }), 'authTimeout'],
];

const EMPTY_AND_LONG: Case[] = [
  ...(['externalUserId', 'userName', 'solutionId', 'instanceName'] as const).flatMap((field): Case[] => [
    [`empty ${field}`, with_({ [field]: '' }), field],
    [`201-character ${field}`, with_({ [field]: 'x'.repeat(201) }), field],
  ]),
  ['an empty slot', with_({ authSlots: [''] }), 'authSlots.0'],
  ['a 201-character slot', with_({ authSlots: ['s'.repeat(201)] }), 'authSlots.0'],
  ['a 201-emoji userName', with_({ userName: '😀'.repeat(201) }), 'userName'],
  [
    'an empty config externalId',
    with_({ configValues: [{ externalId: '', value: 1 }] }),
    'configValues.0.externalId',
  ],
  [
    'a 201-character config externalId',
    with_({ configValues: [{ externalId: 'c'.repeat(201), value: 1 }] }),
    'configValues.0.externalId',
  ],
];

const CHARACTERS: Case[] = [
  ['a NUL in externalUserId', with_({ externalUserId: 'user\u0000x' }), 'externalUserId'],
  ['a newline in a slot', with_({ authSlots: ['sl\nack'] }), 'authSlots.0'],
  ['a DEL in userName', with_({ userName: 'Ada\u007f' }), 'userName'],
  ['a C1 control in instanceName', with_({ instanceName: 'x\u0085y' }), 'instanceName'],
  [
    'a tab in a config externalId',
    with_({ configValues: [{ externalId: 'a\tb', value: 1 }] }),
    'configValues.0.externalId',
  ],
  ['a lone high surrogate in externalUserId', with_({ externalUserId: '\uD800' }), 'externalUserId'],
  ['a lone low surrogate in solutionId', with_({ solutionId: 'a\uDC00b' }), 'solutionId'],
  ['a lone surrogate in a slot', with_({ authSlots: ['slack\uD83D'] }), 'authSlots.0'],
  ["a ':' in solutionId", with_({ solutionId: 'sol-x:sol-1' }), 'solutionId'],
];

const SLOTS_AND_KEYS: Case[] = [
  ['0 slots', with_({ authSlots: [] }), 'authSlots'],
  ['21 slots', with_({ authSlots: slots(21) }), 'authSlots'],
  ['duplicate slots', with_({ authSlots: ['slack', 'salesforce', 'slack'] }), 'authSlots.2'],
  [
    'duplicate config externalIds',
    with_({
      configValues: [
        { externalId: 'a', value: 1 },
        { externalId: 'a', value: 2 },
      ],
    }),
    'configValues.1.externalId',
  ],
  ['an unknown key', with_({ extra: true }), '(body)'],
  [
    'an unknown key in a config value',
    with_({ configValues: [{ externalId: 'a', value: 1, x: 2 }] }),
    'configValues.0',
  ],
  [
    'a config value that is not JSON',
    with_({ configValues: [{ externalId: 'a', value: Number.NaN }] }),
    'configValues.0.value',
  ],
];

const TIMEOUTS: Case[] = ['0s', '31d', 'abc', '', '721h', '1.5h', '-1s'].map((t) => [
  `authTimeout ${JSON.stringify(t)}`,
  with_({ authTimeout: t }),
  'authTimeout',
]);

// The documented pattern takes nothing else: no whitespace around, no other space (issue: " 90s" got 201).
const PADDED_TIMEOUTS = [' 90s', '90s ', '90s\n', '\t90s', '\u00a090s', '90s\u2003', '\ufeff90s'];
const STRICT_TIMEOUTS: Case[] = PADDED_TIMEOUTS.map((t) => [
  `authTimeout ${JSON.stringify(t)}`,
  with_({ authTimeout: t }),
  'authTimeout',
]);

// A browser resolves these path segments before it asks for the dialog; others with dots are fine.
const DOT_SLOTS: Case[] = ['.', '..'].map((slot) => [
  `a slot ${JSON.stringify(slot)}`,
  with_({ authSlots: ['slack', slot] }),
  'authSlots.1',
]);
const DOTTED_SLOTS: Case[] = ['...', '.slack', 'slack..', 'a.b'].map((slot) => [
  `a slot ${JSON.stringify(slot)}`,
  with_({ authSlots: [slot] }),
  undefined,
]);

const TABLE = [
  ...GOOD,
  ...DOTTED_SLOTS,
  ...DOT_SLOTS,
  ...MISSING,
  ...WRONG_TYPES,
  ...EMPTY_AND_LONG,
  ...CHARACTERS,
  ...SLOTS_AND_KEYS,
  ...TIMEOUTS,
  ...STRICT_TIMEOUTS,
];

/** The problem paths the API's 400 body would list (`(body)` for the input itself). */
function apiPaths(input: unknown): string[] {
  const parsed = connectInputSchema.safeParse(input);
  return parsed.success ? [] : problemsOf(parsed.error).map((p) => p.path);
}

function guardPaths(input: unknown): string[] {
  return checkConnectInput(input).map((p) => (p.path.length === 0 ? '(body)' : p.path.join('.')));
}

describe('the API schema and the workflow guard agree on every input', () => {
  for (const [name, input, path] of TABLE) {
    test(`${path === undefined ? 'accepts' : 'refuses'} ${name}`, () => {
      const api = apiPaths(input);
      const guard = guardPaths(input);
      assert.deepEqual(api, guard, 'the API and the workflow list the same problems');
      if (path === undefined) {
        assert.deepEqual(api, []);
        assert.deepEqual(connectInputProblems(input), []);
      } else {
        assert.ok(api.includes(path), `${path} missing from ${JSON.stringify(api)}`);
        // The workflow forgives padding around authTimeout and dot slots (below); it refuses the rest.
        if (![...STRICT_TIMEOUTS, ...DOT_SLOTS].some(([, forgiven]) => forgiven === input)) {
          assert.ok(connectInputProblems(input).length > 0);
        }
      }
    });
  }
});

describe('authTimeout: exact for the API, forgiving where it must be', () => {
  test('the API refuses whitespace around it, with a message that says so', () => {
    for (const timeout of PADDED_TIMEOUTS) {
      const parsed = connectInputSchema.safeParse(with_({ authTimeout: timeout }));
      assert.equal(parsed.success, false, JSON.stringify(timeout));
      assert.match(parsed.error!.issues[0]!.message, /no whitespace/);
      assert.equal(new RegExp(DURATION_PATTERN).test(timeout), false, 'the documented pattern agrees');
      assert.equal(parseExactDuration(timeout), undefined);
    }
  });

  test('the workflow still takes what the API once passed on, so older sagas replay as they ran', () => {
    for (const timeout of PADDED_TIMEOUTS) {
      assert.deepEqual(connectInputProblems(with_({ authTimeout: timeout })), [], JSON.stringify(timeout));
    }
  });

  test('a zero or too long one is told the range, not the form', () => {
    for (const timeout of ['0s', '00m', '31d', '721h']) {
      const parsed = connectInputSchema.safeParse(with_({ authTimeout: timeout }));
      assert.match(parsed.error!.issues[0]!.message, /between 1s and 30d/, timeout);
    }
  });

  test('environment variables (SHUTDOWN_GRACE) may still carry whitespace', () => {
    assert.equal(parseDuration(' 30s\n'), 30_000);
    assert.equal(parseExactDuration('30s'), 30_000);
    assert.equal(parseDuration('30 s'), undefined);
  });
});

describe('the documented id pattern and the id check agree', () => {
  const controls = [
    ...Array.from({ length: 0x20 }, (_, c) => c),
    ...Array.from({ length: 0xa0 - 0x7f }, (_, i) => 0x7f + i),
  ].map((c) => String.fromCharCode(c));

  test('every control character is refused by both; the characters around them by neither', () => {
    // Compiled as a client without the u flag would: ECMA's default dialect.
    const pattern = new RegExp(idPattern());
    for (const c of controls) {
      assert.equal(pattern.test(`a${c}b`), false, `U+${c.charCodeAt(0).toString(16)}`);
      assert.ok(idProblem('x', `a${c}b`), `U+${c.charCodeAt(0).toString(16)}`);
    }
    for (const ok of [' ', '~', '\u00a0', 'é', '中', '😀', '\ufffd', '\u2028']) {
      assert.equal(pattern.test(`a${ok}b`), true, JSON.stringify(ok));
      assert.equal(idProblem('x', `a${ok}b`), undefined, JSON.stringify(ok));
    }
  });

  test('a lone surrogate passes the pattern (no portable pattern can refuse it), so the code does', () => {
    for (const lone of ['\ud800', 'a\udc00', '\ud83d']) {
      assert.equal(new RegExp(idPattern()).test(lone), true);
      assert.match(idProblem('x', lone) ?? '', /lone surrogates/);
    }
  });

  test("solutionId's pattern also refuses ':'", () => {
    assert.equal(new RegExp(idPattern(':')).test('a:b'), false);
    assert.equal(new RegExp(idPattern(':')).test('a-b'), true);
  });
});

describe('slots "." and "..": refused by the API, still taken by the workflow', () => {
  test('the API names the slot and why', () => {
    const parsed = connectInputSchema.safeParse(with_({ authSlots: ['..'] }));
    assert.equal(parsed.success, false);
    assert.match(parsed.error!.issues[0]!.message, /must not be "\." or "\.\."/);
  });

  test('the workflow takes them, so a saga started with one before replays as it ran', () => {
    for (const [, input] of DOT_SLOTS) assert.deepEqual(connectInputProblems(input), []);
  });
});
