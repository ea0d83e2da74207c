/** Ids in the Web UI's markdown stay inside their code span whatever characters they hold. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codeSpan } from '../common/markdown.js';

test('an id with a backtick cannot end its code span and render the rest as markdown', () => {
  assert.equal(codeSpan('slack'), '`slack`');
  const span = codeSpan('a` [click](https://evil.example) `b');
  assert.equal(span, "`a' [click](https://evil.example) 'b`");
  assert.equal(span.split('`').length, 3, 'exactly the two delimiting backticks');
});
