// pass.js with handleSummary writing k6's summary data as JSON (the second form the k6 check reads).
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  vus: 2,
  iterations: 40,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  thresholds: {
    http_req_duration: ['p(95)<500'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

export default function () {
  const res = http.get('http://127.0.0.1:18087/index.html');
  check(res, { 'status is 200': (r) => r.status === 200 });
}

export function handleSummary(data) {
  return { 'handle-summary.json': JSON.stringify(data, null, 2) };
}
