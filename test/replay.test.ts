/**
 * Replays every recorded history in test/histories/ against the current workflow code: a change
 * that would break sagas already running (a different command sequence) fails here.
 * Re-record with `tsx test/record-history.ts` only for intended, compatible changes.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { bundleConnectWorkflows } from '../lib/workflow-bundle.js';
import { installQuietRuntime } from './helpers/temporal.js';

installQuietRuntime();

const HISTORY_DIR = fileURLToPath(new URL('./histories/', import.meta.url));
const WORKFLOW_DIR = fileURLToPath(new URL('../workflows/', import.meta.url));
const files = readdirSync(HISTORY_DIR)
  .filter((name) => name.endsWith('.json'))
  .sort();

let bundle: WorkflowBundleWithSourceMap;
before(async () => {
  bundle = await bundleConnectWorkflows();
});

function load(file: string) {
  return historyFromJSON(JSON.parse(readFileSync(`${HISTORY_DIR}${file}`, 'utf8')));
}

/** The ids passed to `patched()` in workflows/, each through a constant of the same file. */
function patchIdsInWorkflows(): string[] {
  return readdirSync(WORKFLOW_DIR)
    .filter((name) => name.endsWith('.ts'))
    .flatMap((name) => {
      const source = readFileSync(`${WORKFLOW_DIR}${name}`, 'utf8');
      return [...source.matchAll(/patched\((\w+)\)/g)].map((call) => {
        const constant = new RegExp(`const ${call[1]} = '([^']+)'`).exec(source);
        assert.ok(constant, `${name}: patched(${call[1]}) names no constant of the file`);
        return constant[1]!;
      });
    });
}

/** The patch ids a history's markers record. */
function patchMarkers(history: ReturnType<typeof load>): string[] {
  return (history.events ?? []).flatMap((event) => {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_patch') return [];
    return Object.values(marker.details ?? {}).flatMap((payloads) =>
      (payloads.payloads ?? []).map(
        (p) => (JSON.parse(Buffer.from(p.data ?? []).toString()) as { id: string }).id,
      ),
    );
  });
}

describe('replay of recorded histories', () => {
  test('the recorded set covers the main paths: completed, known user, reissue, timed out, cancelled, failed', () => {
    // Each file, how its saga ended, and the activities that show it took that path (`!` = never ran).
    const mainPaths: [string, string, string[]][] = [
      ['completed-2-slots.json', 'COMPLETED', ['createUser', 'enableInstance']],
      // findUser finds the user: no createUser, the token at once (every other history creates one).
      ['completed-known-user.json', 'COMPLETED', ['findUser', '!createUser', 'enableInstance']],
      ['completed-shared-reissue.json', 'COMPLETED', ['issueAuthUrls', 'enableInstance']],
      ['timed-out.json', 'FAILED', ['removeInstance', '!attachAuths']],
      ['cancelled.json', 'CANCELED', ['removeInstance', '!attachAuths']],
      ['failed-attach.json', 'FAILED', ['attachAuths', 'removeInstance', '!enableInstance']],
    ];
    for (const [name, closed, activities] of mainPaths) {
      assert.ok(files.includes(name), `test/histories/${name} is committed`);
      const events = load(name).events ?? [];
      const ran = new Set(
        events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []),
      );
      const last = events.at(-1);
      const ended =
        closed === 'COMPLETED'
          ? last?.workflowExecutionCompletedEventAttributes
          : closed === 'FAILED'
            ? last?.workflowExecutionFailedEventAttributes
            : last?.workflowExecutionCanceledEventAttributes;
      assert.ok(ended, `${name} ends ${closed}`);
      for (const activity of activities) {
        const never = activity.startsWith('!');
        assert.equal(
          ran.has(activity.replace('!', '')),
          !never,
          `${name}: ${activity} ${never ? 'must not run' : 'ran'}`,
        );
      }
    }
  });

  test('the recorded set covers the paths sagas started under release 386cd4b can be on', () => {
    // Its runs carry the foreign-auth-limits marker, which the older histories above predate: without
    // these, a change to the strict auth checks, compensation or a patched() branch of that release
    // (two reissues minting a code each, looking again after a late create, rate-limit rounds, the
    // user looked up again) would reach running sagas unreplayed.
    const paths = [
      'cancelled',
      'cancelled-after-retried-create',
      'completed-after-retried-create',
      'concurrent-reissues',
      'failed-attach',
      'failed-create',
      'foreign-auth-rejected',
      'rate-limited-attach',
      'timed-out',
      'user-relookup',
    ];
    for (const path of paths) {
      const name = `release-386cd4b-${path}.json`;
      assert.ok(files.includes(name), `test/histories/${name} is committed`);
    }
  });

  test('a stray removal that failed before its retries existed (release 47d9e76) stays one round', () => {
    // The other branch of `stray-removal-retries`: only such a history makes replay take it.
    const name = 'release-47d9e76-completed-stray-removal-failed.json';
    assert.ok(files.includes(name), `test/histories/${name} is committed`);
    const history = load(name);
    const events = history.events ?? [];
    const removals = events.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'removeStrayInstances',
    );
    assert.equal(removals.length, 1);
    assert.ok(events.some((e) => e.activityTaskFailedEventAttributes));
    assert.ok(events.at(-1)?.workflowExecutionCompletedEventAttributes);
    assert.ok(!patchMarkers(history).includes('stray-removal-retries'));
  });

  test('every patch the workflow code checks has a committed history that took its new branch', () => {
    // Without one, breaking the patched branch would reach running sagas unreplayed.
    const recorded = new Set(files.flatMap((file) => patchMarkers(load(file))));
    const ids = patchIdsInWorkflows();
    assert.ok(ids.length >= 8, `patch ids found: ${ids.join(', ')}`);
    for (const id of ids) assert.ok(recorded.has(id), `no committed history took patch ${id}`);
  });

  for (const file of files) {
    test(`${file} replays without nondeterminism`, async () => {
      await Worker.runReplayHistory({ workflowBundle: bundle }, load(file), file);
    });
  }

  test('a history whose commands differ from the code is rejected', async () => {
    // Same saga, but the recorded first activity is another one: what an incompatible reordering
    // of the saga's steps looks like to the replayer.
    const history = load('completed-2-slots.json');
    const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes?.activityType);
    assert.ok(scheduled?.activityTaskScheduledEventAttributes?.activityType);
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'createInstance';
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: bundle }, history, 'tampered'),
      DeterminismViolationError,
    );
  });
});
