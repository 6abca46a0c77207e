package demosvc

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// durationBuckets span 1 ms to 2 s, denser at the low end where a healthy demo answers, so
// that both a p99 of a few ms and an injected 200 ms latency land in distinct buckets.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2}

// metrics are the RED series the canary analysis queries, on a registry of their own so that
// a process embedding several demo services (or tests) never collide.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	traffic  *prometheus.GaugeVec
	inFlight prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "Requests the demo service routed, by version and HTTP status code.",
		}, []string{"service", "version", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to answer a routed request, injected latency included.",
			Buckets: durationBuckets,
		}, []string{"service", "version"}),
		traffic: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "demosvc_traffic_percent",
			Help: "Share of traffic (0 to 100) each version gets in each environment.",
		}, []string{"environment", "version"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "demosvc_requests_in_flight",
			Help: "Routed requests being answered now (injected latency makes them pile up).",
		}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.traffic, m.inFlight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(service, version string, code int, elapsed time.Duration) {
	// The 500 series exists (at 0) from a version's first request, as instrumented services do:
	// rate() over a series that appears only with the first error misses that error, and a
	// canary analysis would see a fault one scrape late.
	m.requests.WithLabelValues(service, version, "500").Add(0)
	m.requests.WithLabelValues(service, version, codeLabel(code)).Inc()
	m.duration.WithLabelValues(service, version).Observe(elapsed.Seconds())
}

// setSplit replaces an environment's traffic series, dropping versions that left it.
func (m *metrics) setSplit(env string, s Split) {
	m.traffic.DeletePartialMatch(prometheus.Labels{"environment": env})
	for version, share := range s.Shares() {
		m.traffic.WithLabelValues(env, version).Set(share)
	}
}

// codeLabel avoids an allocation per request for the codes the router sends.
func codeLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 500:
		return "500"
	}
	return strconv.Itoa(code)
}
