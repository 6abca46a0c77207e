package demosvc

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// statusClientClosed is recorded when the caller gave up during injected latency (nginx's
// 499), so such requests are visible in the metrics without counting as server errors.
const statusClientClosed = 499

// handleRoute answers one request of the service as the version the router's split picks,
// applying that version's fault if one is set.
func (s *Server) handleRoute(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()
	s.mu.RLock()
	split := s.envs[s.cfg.Environment]
	s.mu.RUnlock()
	version := split.Pick(rand.Float64())

	code := http.StatusOK
	if f, ok := s.fault(version); ok {
		if f.LatencyMs > 0 {
			t := time.NewTimer(time.Duration(f.LatencyMs) * time.Millisecond)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				s.metrics.observe(s.cfg.Service, version, statusClientClosed, time.Since(start))
				return
			}
		}
		if f.ErrorRate > 0 && rand.Float64() < f.ErrorRate {
			code = http.StatusInternalServerError
		}
	}

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Version", version)
	w.WriteHeader(code)
	w.Write(routeBody(s.cfg.Service, version, code))
	s.metrics.observe(s.cfg.Service, version, code, time.Since(start))
}

// routeBody builds {"service":…,"version":…} by hand: names are validated to need no JSON
// escaping, and this is the hot path the benchmark measures.
func routeBody(service, version string, code int) []byte {
	b := make([]byte, 0, 96)
	b = append(b, `{"service":`...)
	b = strconv.AppendQuote(b, service)
	b = append(b, `,"version":`...)
	b = strconv.AppendQuote(b, version)
	if code != http.StatusOK {
		b = append(b, `,"error":"injected fault"`...)
	}
	return append(b, "}\n"...)
}
