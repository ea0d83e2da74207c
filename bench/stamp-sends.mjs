// Loaded into the bench's worker processes only (`node --import`), never into the image: stamps
// every HTTP request with the time the worker made it, so the wire tap can count Tray requests by
// when they were sent. The tap shares the bench's process with the API and the end users; when that
// process falls behind, requests sent over several seconds are read together, and counted on
// arrival they look like a burst the worker never sent (docs/bench.md, "Counted when sent").
import http from 'node:http';
import https from 'node:https';

// bench/wire-meter.ts reads this header; test/bench.test.ts checks every request carried it.
const SENT_AT_HEADER = 'x-bench-sent-at';

for (const transport of [http, https]) {
  const request = transport.request;
  transport.request = function stampedRequest(...args) {
    const req = request.apply(this, args);
    req.setHeader(SENT_AT_HEADER, String(Date.now()));
    return req;
  };
}
