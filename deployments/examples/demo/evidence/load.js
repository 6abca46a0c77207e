// k6 load test of the demo service (loopback only): 20 virtual users for 70 s, each pausing 50 ms between requests
// (the seed's load test runs at least a minute: the k6 check's minDurationMs).
import http from 'k6/http';
import { check, sleep } from 'k6';

export const options = {
  vus: 20,
  duration: '70s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<300', 'p(99)<800'],
  },
};

export default function () {
  const res = http.get('http://127.0.0.1:8090/');
  check(res, { 'status is 200': (r) => r.status === 200 });
  sleep(0.05);
}
