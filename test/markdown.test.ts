/** Ids and messages in the Web UI's markdown render as themselves whatever characters they hold. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codeSpan, PLAIN_TEXT_MAX, plainText } from '../common/markdown.js';

test('an id with a backtick cannot end its code span and render the rest as markdown', () => {
  assert.equal(codeSpan('slack'), '`slack`');
  const span = codeSpan('a` [click](https://evil.example) `b');
  assert.equal(span, "`a' [click](https://evil.example) 'b`");
  assert.equal(span.split('`').length, 3, 'exactly the two delimiting backticks');
});

test('a message shown as prose renders as itself: no emphasis, link, HTML or extra line', () => {
  const shown = plainText('pending: slack, **bold** [link](http://example.com) _x_ <img src=x>\n# head');
  assert.equal(
    shown,
    'pending: slack, \\*\\*bold\\*\\* \\[link\\](`http://example.com)` \\_x\\_ \\<img src=x\\> \\# head',
  );
  assert.equal(plainText('a`b\\c'), 'a\\`b\\\\c');
});

test('a bare URL or www. name is shown as code, which the UI does not turn into a link', () => {
  assert.equal(plainText('see https://evil.example/a_b now'), 'see `https://evil.example/a_b` now');
  assert.equal(plainText('or www.evil.example.'), 'or `www.evil.example.`');
  assert.equal(plainText('no link: a.www.b'), 'no link: a.www.b');
});

test('a long message is cut to PLAIN_TEXT_MAX characters with an ellipsis', () => {
  const shown = plainText('x'.repeat(PLAIN_TEXT_MAX + 50));
  assert.equal(shown.length, PLAIN_TEXT_MAX);
  assert.ok(shown.endsWith('…'));
  assert.equal(plainText('short'), 'short');
  // Cut by characters: an emoji (two UTF-16 units) at the cut is kept whole or dropped, never halved.
  assert.equal(plainText('😀'.repeat(PLAIN_TEXT_MAX + 1)), `${'😀'.repeat(PLAIN_TEXT_MAX - 1)}…`);
});
