/**
 * The OpenAPI document as other tools read it: every pattern in a dialect each common regex engine
 * takes (a client generated in Python, Java or Go compiles them; ECMA without the u flag too). The
 * statuses each route sends are checked against real answers in test/api-openapi.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { buildOpenApi } from '../api/openapi.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the document is walked loosely */
const doc = buildOpenApi({ codec: true }) as any;

/** Every `pattern` keyword in the document, with where it is. */
function patterns(node: unknown, at = '#'): [string, string][] {
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === 'pattern' && typeof value === 'string'
      ? [[at, value] as [string, string]]
      : patterns(value, `${at}/${key}`),
  );
}

describe('patterns every regex dialect takes', () => {
  const found = patterns(doc);

  test('the document has patterns, none with a Unicode property escape', () => {
    assert.ok(found.length >= 10, JSON.stringify(found));
    for (const [at, pattern] of found) {
      assert.doesNotMatch(pattern, /\\[pP]\{/, at);
      // The control characters as \x escapes in the pattern text, not as raw characters.
      const raw = [...pattern].filter((c) => c < ' ' || (c >= '\u007f' && c <= '\u009f'));
      assert.deepEqual(raw, [], at);
    }
  });

  test('each compiles without the u flag, and an id pattern still takes an emoji', () => {
    for (const [at, pattern] of found) {
      const re = new RegExp(pattern);
      if (pattern.includes('x00')) {
        assert.equal(re.test('Ada 😀'), true, `${at}: an emoji's surrogate pair must pass`);
        assert.equal(re.test('a\u0000b'), false, at);
        assert.equal(re.test('a\u0085b'), false, at);
      }
    }
  });

  const python = spawnSync('python3', ['--version']).status === 0;
  test('each compiles in Python, and every schema passes its meta-schema there', { skip: !python }, () => {
    // openapi-spec-validator and openapi-core read the document with `re` and `jsonschema`.
    const script = [
      'import json, re, sys',
      'doc = json.load(sys.stdin)',
      'for at, p in doc["patterns"]:',
      '    re.compile(p)',
      'try:',
      '    from jsonschema import Draft202012Validator as V',
      'except ImportError:',
      '    sys.exit(0)',
      'for name, schema in doc["schemas"].items():',
      '    V.check_schema(schema, format_checker=V.FORMAT_CHECKER)',
    ].join('\n');
    const input = JSON.stringify({ patterns: found, schemas: doc.components.schemas });
    const run = spawnSync('python3', ['-c', script], { input, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  });
});
