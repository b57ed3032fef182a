// A TaskFlow HTTP handler in plain Node.js (node:http, no packages): the push contract of
// docs/worker.md, "The HTTP handler contract".
//
//   TASKFLOW_HTTP_SECRET=... node handler.js [PORT]        (PORT 0 or none: any free port)
//
// and a worker pointing at it, with the same secret:
//
//   TASKFLOW_HTTP_SECRET=... taskflow-worker --queue default \
//     --handler example.greet=http:http://127.0.0.1:PORT/ --handler example.report=http:http://127.0.0.1:PORT/ ...
//
// Job types (TaskFlow-Job-Type):
//   example.greet         {"name": "Ada"}        200 {"greeting": "Hello, Ada!"}: the job succeeds with that result
//   example.charge        {"card": "declined"}   422: the job fails at once (FAILED, not retried)
//   example.rate_limited  {"not_before": UNIX}   429 + Retry-After until then: the job is snoozed, no attempt used
//   example.report        {"seconds": N}         works N seconds, then 200; extends its lease while it works
//                                                (POST /jobs/{id}/heartbeat on taskflow-http when
//                                                TASKFLOW_API_URL and TASKFLOW_API_KEY are set), and stops
//                                                when the worker aborts the request (a cancel)
// A request whose signature does not verify gets 401 (which fails the job: a misconfigured secret).
'use strict';
const crypto = require('node:crypto');
const http = require('node:http');

const SECRET = process.env.TASKFLOW_HTTP_SECRET || '';
const TOLERANCE_SECONDS = 300; // reject replays of requests older than 5 minutes
const MAX_BODY = 1 << 20;

// The whole verification: HMAC-SHA256 over "<TaskFlow-Timestamp>.<raw body>", hex, "v1=" prefix.
function verify(headers, body) {
  const timestamp = headers['taskflow-timestamp'] || '';
  const signature = headers['taskflow-signature'] || '';
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const expected = 'v1=' + crypto.createHmac('sha256', SECRET).update(timestamp + '.').update(body).digest('hex');
  return signature.length === expected.length && crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
}

function reply(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

// Extends the lease through taskflow-http, when the handler knows where it is. Without it the
// worker's own heartbeats keep the lease for as long as the request is open.
async function heartbeat(job) {
  const api = process.env.TASKFLOW_API_URL;
  if (!api) return 'worker';
  const response = await fetch(`${api}/jobs/${job.id}/heartbeat`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${process.env.TASKFLOW_API_KEY || ''}` },
    body: JSON.stringify({ lease_token: job.leaseToken }),
  });
  await response.arrayBuffer();
  return response.ok ? 'api' : `api_${response.status}`;
}

async function report(job, payload, res, aborted) {
  const seconds = Number(payload.seconds) || 1;
  const beats = [];
  for (let elapsed = 0; elapsed < seconds; elapsed += 0.5) {
    if (aborted()) {
      console.log(`job ${job.id}: the worker aborted the request (cancelled); stopping`);
      return;
    }
    if (elapsed > 0 && elapsed % 1 === 0) beats.push(await heartbeat(job).catch((e) => `error: ${e.message}`));
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  reply(res, 200, { reported: true, seconds, heartbeats: beats });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.method !== 'POST' || size > MAX_BODY) return reply(res, 400, { error: 'POST a JSON payload' });
    if (!verify(req.headers, body)) return reply(res, 401, { error: 'bad signature' });
    let payload;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return reply(res, 400, { error: 'the payload is not JSON' });
    }
    const job = {
      id: req.headers['taskflow-job-id'],
      attempt: Number(req.headers['taskflow-attempt']),
      type: req.headers['taskflow-job-type'],
      leaseToken: req.headers['taskflow-lease-token'],
    };
    let closed = false;
    res.on('close', () => { closed = true; }); // before the response ends: the worker gave up on it
    switch (job.type) {
      case 'example.greet':
        return reply(res, 200, { greeting: `Hello, ${payload.name || 'world'}!`, attempt: job.attempt });
      case 'example.charge':
        if (payload.card === 'declined') return reply(res, 422, { error: 'card declined' });
        return reply(res, 200, { charged: true });
      case 'example.rate_limited': {
        const wait = Math.ceil(Number(payload.not_before || 0) - Date.now() / 1000);
        if (wait > 0) return reply(res, 429, { error: 'rate limited' }, { 'Retry-After': String(wait) });
        return reply(res, 200, { sent: true, attempt: job.attempt });
      }
      case 'example.report':
        return report(job, payload, res, () => closed).catch((e) => reply(res, 500, { error: e.message }));
      default:
        return reply(res, 404, { error: `no handler for ${job.type}` });
    }
  });
});

if (!SECRET) {
  console.error('set TASKFLOW_HTTP_SECRET (the same secret as the worker\'s http handler)');
  process.exit(2);
}
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log(`listening on ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
