// k6 load on `flashsale serve`: an open model (constant arrival rate, as `flashsale run --target`
// does), POST /v1/orders with a fresh request id per order, a random organisation, one offer.
//
//   flashsale serve LoadProfiles/kaigong-opening.yaml --opens-in 0s &
//   k6 run -e RATE=5000 -e DURATION=30s -e OFFER=kickoff-bundle -e ORGANISATIONS=200000 examples/k6-orders.js
//
// Environment: BASE (default http://127.0.0.1:8080), RATE orders per second (default 1000), DURATION
// (default 30s), OFFER (default kickoff-bundle), ORGANISATIONS in the campaign (default 200000),
// TOKEN (a bearer token, for a server started with --tokens; the organisation must then be the
// token's: set ORGANISATION to it). The server's clock must be wall time (serve's default): bodies
// carry no campaign time.
//
// Every answer with a decision is 200 (SOLD_OUT and LIMIT are business answers, not errors): the
// checks count the outcomes; 429 (overload) and 503 (draining) are the failures k6 reports.
// Reservations: a HELD answer carries a hold id; this script confirms it at once (a closed-loop
// follow-up, only for a hold that was granted).

import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import exec from 'k6/execution';

const BASE = __ENV.BASE || 'http://127.0.0.1:8080';
const OFFER = __ENV.OFFER || 'kickoff-bundle';
const ORGANISATIONS = parseInt(__ENV.ORGANISATIONS || '200000');
const FIXED_ORGANISATION = __ENV.ORGANISATION ? parseInt(__ENV.ORGANISATION) : null;
const RATE = parseInt(__ENV.RATE || '1000');

export const options = {
  scenarios: {
    orders: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.DURATION || '30s',
      preAllocatedVUs: Math.max(10, Math.ceil(RATE / 200)),
      maxVUs: Math.max(50, Math.ceil(RATE / 20)),
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],      // 429/503/transport errors
    http_req_duration: ['p(99)<50'],     // ms, measured by k6 from each request's start
  },
};

const outcomes = new Counter('flashsale_outcomes');
const headers = { 'Content-Type': 'application/json' };
if (__ENV.TOKEN) headers['Authorization'] = `Bearer ${__ENV.TOKEN}`;

export default function () {
  // Unique per iteration across VUs and across runs (ms clock × 1000 + iteration), even for the buy,
  // odd for its confirm; below 2^53, so exact in JavaScript numbers.
  const base = Date.now() * 1000 + (exec.scenario.iterationInTest % 1000);
  const requestId = base * 2 + 2;
  const organisation = FIXED_ORGANISATION ?? Math.floor(Math.random() * ORGANISATIONS);
  const res = http.post(`${BASE}/v1/orders`,
    JSON.stringify({ request_id: requestId, organisation: organisation, offer: OFFER, quantity: 1 }),
    { headers: headers, tags: { name: 'POST /v1/orders' } });
  const ok = check(res, { 'decided (200)': (r) => r.status === 200 });
  if (!ok) return;
  const answer = res.json();
  outcomes.add(1, { outcome: answer.outcome });
  if (answer.outcome === 'HELD' && answer.hold) {
    const confirm = http.post(`${BASE}/v1/holds/${answer.hold.id}/confirm`,
      JSON.stringify({ request_id: requestId + 1, organisation: organisation, offer: OFFER }),
      { headers: headers, tags: { name: 'POST /v1/holds/{id}/confirm' } });
    check(confirm, { 'confirm decided (200)': (r) => r.status === 200 });
  }
}
