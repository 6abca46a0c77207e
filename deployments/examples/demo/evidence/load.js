// k6 load test of the demo service (loopback only): 20 virtual users for 15 s.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  vus: 20,
  duration: '15s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<300', 'p(99)<800'],
  },
};

export default function () {
  const res = http.get('http://127.0.0.1:8090/');
  check(res, { 'status is 200': (r) => r.status === 200 });
}
