/**
 * The bench's wire tap counts Tray requests by when the worker sent them: its worker processes load
 * bench/stamp-sends.mjs, and the tap takes the stamp, falling back to the arrival time.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { startWireTap, type WireTap } from '../bench/wire-meter.js';
import { closeServer } from '../dev/in-process.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { createEmulator } from '../emulator/server.js';
import { httpRequest } from '../lib/http-request.js';

const QUERY = JSON.stringify({ query: 'query Probe { viewer { partner } }' });
let tap: WireTap;

before(async () => {
  tap = await startWireTap(() => createEmulator({ masterToken: 'mt_wire', embeddedId: 'emb-wire' }));
});
after(() => closeServer(tap.server));

/** POSTs the probe query to the tap with `headers`; returns what the tap recorded for it. */
async function recorded(headers: Record<string, string>) {
  const before = tap.requests.length;
  await httpRequest(`${tap.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: QUERY,
  });
  assert.equal(tap.requests.length, before + 1);
  return tap.requests[before] as (typeof tap.requests)[number];
}

test('a process started with bench/stamp-sends.mjs stamps each request with when it sent it', async () => {
  const sender = `
    import http from 'node:http';
    for (let i = 0; i < 2; i++) {
      await new Promise((resolve, reject) => {
        const req = http.request(process.argv[1], { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end(process.argv[2]);
      });
    }`;
  const first = tap.requests.length;
  const stamp = pathToFileURL(join(PROJECT_ROOT, 'bench', 'stamp-sends.mjs')).href;
  const startedAt = Date.now();
  await promisify(execFile)(
    process.execPath,
    ['--import', stamp, '--input-type=module', '-e', sender, `${tap.url}/graphql`, QUERY],
    { timeout: 30_000 },
  );
  const sent = tap.requests.slice(first);
  assert.equal(sent.length, 2);
  for (const r of sent) {
    assert.equal(r.operation, 'Probe');
    assert.ok(r.sentAt !== undefined, 'the request carried its send time');
    assert.ok(r.sentAt >= startedAt && r.sentAt <= r.at, `sent ${r.sentAt}, arrived ${r.at}`);
  }
});

test('the tap takes the send time a request carries, not the time it read it', async () => {
  const sentAt = Date.now() - 3_000;
  const r = await recorded({ 'x-bench-sent-at': String(sentAt) });
  assert.equal(r.sentAt, sentAt);
  assert.ok(r.at - sentAt >= 3_000);
});

test('without a usable stamp the request is counted on arrival', async () => {
  const headers: Record<string, string>[] = [
    {},
    { 'x-bench-sent-at': 'soon' },
    { 'x-bench-sent-at': String(Date.now() - 120_000) },
  ];
  for (const header of headers) {
    const r = await recorded(header);
    assert.equal(r.sentAt, undefined, JSON.stringify(header));
    assert.ok(r.at > 0);
  }
});
