/**
 * The history search the end-to-end test relies on: it must find a token inside an activity's input,
 * where the payload bytes hide it from JSON.stringify.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import proto from '@temporalio/proto';

const { temporal } = proto;
import { historyText, secretsInHistory } from './helpers/history-text.js';

const TOKEN = 'ut_abcdefghijklmnopqrstuvwxyz012345';

/** A history whose one activity got a user token in its input, as a leak would put it there. */
function plantedHistory(): proto.temporal.api.history.v1.History {
  const data = new TextEncoder().encode(JSON.stringify([{ userId: 'user-1', userToken: TOKEN }]));
  return temporal.api.history.v1.History.create({
    events: [
      {
        eventType: temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        activityTaskScheduledEventAttributes: {
          activityType: { name: 'createInstance' },
          input: {
            payloads: [{ metadata: { encoding: new TextEncoder().encode('json/plain') }, data }],
          },
        },
      },
    ],
  });
}

test('a token in an activity input hides from JSON.stringify, not from the history search', () => {
  const history = plantedHistory();
  assert.ok(!JSON.stringify(history).includes(TOKEN), 'JSON.stringify shows payload bytes as numbers');
  assert.ok(historyText(history).includes(TOKEN));
  assert.deepEqual(secretsInHistory(history, [TOKEN], []), [TOKEN]);
  assert.deepEqual(secretsInHistory(history, [], [/ut_[A-Za-z0-9_-]{16,}/]), [TOKEN]);
});

test('a clean history has nothing to report', () => {
  const history = plantedHistory();
  const event = history.events[0];
  const payload = event?.activityTaskScheduledEventAttributes?.input?.payloads?.[0];
  if (payload) payload.data = new TextEncoder().encode('[{"userId":"user-1"}]');
  assert.deepEqual(secretsInHistory(history, [TOKEN, 'mt_master'], [/ut_[A-Za-z0-9_-]{16,}/]), []);
});
