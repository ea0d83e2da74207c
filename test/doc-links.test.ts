/**
 * Every relative link in the project's markdown leads somewhere: the file exists and, for a link to
 * a heading (`file.md#heading` or `#heading`), the heading does. A newcomer follows these links from
 * the README; a section moved or renamed must not leave them pointing at nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';

/** The markdown a reader is sent to: the top level, docs/ and deploy/ (not node_modules or .tools). */
function markdownFiles(): string[] {
  const files: string[] = [];
  for (const folder of ['', 'docs', 'deploy', join('deploy', 'k8s')]) {
    const dir = join(PROJECT_ROOT, folder);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) if (name.endsWith('.md')) files.push(join(dir, name));
  }
  return files;
}

/** The text outside fenced code blocks, where a `#` line is a comment and `[x](y)` is code. */
function outsideFences(text: string): string[] {
  const lines: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push(line);
  }
  return lines;
}

/** GitHub's anchor for a heading: lower case, punctuation and symbols dropped, spaces as hyphens. */
export function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Each heading's anchor, numbered as GitHub numbers repeats (`name`, `name-1`, …). */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of outsideFences(readFileSync(file, 'utf8'))) {
    const match = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!match?.[1]) continue;
    const base = slug(match[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** `[text](target)` and `![alt](target)` targets that stay in the repository. */
function relativeLinks(file: string): string[] {
  const targets: string[] = [];
  for (const line of outsideFences(readFileSync(file, 'utf8'))) {
    // Inline code may show link syntax as an example; it is not a link.
    const prose = line.replace(/`[^`]*`/g, '');
    for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1] ?? '';
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) targets.push(target);
    }
  }
  return targets;
}

test('the anchor of a heading is the one GitHub makes', () => {
  assert.equal(
    slug("Measured before issue 10's changes (today's saga)"),
    'measured-before-issue-10s-changes-todays-saga',
  );
  assert.equal(
    slug('API modes: `burst`, `idle`, `waiting` (and the floor)'),
    'api-modes-burst-idle-waiting-and-the-floor',
  );
  assert.equal(slug('One Tray request per activity'), 'one-tray-request-per-activity');
});

test('every relative link in the markdown leads to a file and heading that exist', () => {
  const broken: string[] = [];
  const files = markdownFiles();
  assert.ok(files.length >= 5, `found the project's markdown (${files.length} files)`);
  for (const file of files) {
    for (const target of relativeLinks(file)) {
      const [path = '', anchor] = target.split('#', 2);
      const linked = path === '' ? file : join(dirname(file), decodeURIComponent(path));
      const where = `${relative(PROJECT_ROOT, file)} → ${target}`;
      if (!existsSync(linked)) broken.push(`${where}: no such file`);
      else if (anchor !== undefined && linked.endsWith('.md') && !anchors(linked).has(anchor)) {
        broken.push(`${where}: no such heading`);
      }
    }
  }
  assert.deepEqual(broken, [], `broken links:\n${broken.join('\n')}`);
});
