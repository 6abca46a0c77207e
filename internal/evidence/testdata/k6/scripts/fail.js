import http from 'k6/http';
import { check } from 'k6';

export const options = {
  vus: 2,
  iterations: 40,
  thresholds: {
    http_req_duration: ['p(95)<500', 'p(99)<0.001'],
    http_req_failed: ['rate<0.01'],
  },
};

export default function () {
  // One request in four asks for a page that does not exist, so http_req_failed is 25 %.
  const path = __ITER % 4 === 0 ? '/missing.html' : '/index.html';
  const res = http.get('http://127.0.0.1:18087' + path);
  check(res, { 'status is 200': (r) => r.status === 200 });
}
