package telemetry

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StageState is one (stage, state) pair of the shipgate_releases gauge.
type StageState struct{ Stage, State string }

// ReleaseCounter counts running releases by stage and state, e.g. from Temporal visibility.
type ReleaseCounter func(ctx context.Context) (map[StageState]int, error)

// ReleasesCollector exports shipgate_releases{stage,state}. The worker holds no release state
// (Temporal does), so the gauge is read from visibility on scrape, cached for ttl so a busy
// Prometheus does not turn into a visibility load.
type ReleasesCollector struct {
	count ReleaseCounter
	ttl   time.Duration
	desc  *prometheus.Desc
	errs  prometheus.Counter

	mu     sync.Mutex
	at     time.Time
	cached map[StageState]int
}

// NewReleasesCollector builds the collector; register it and its error counter.
func NewReleasesCollector(count ReleaseCounter, ttl time.Duration) *ReleasesCollector {
	return &ReleasesCollector{
		count: count, ttl: ttl,
		desc: prometheus.NewDesc("shipgate_releases", "Running releases by stage and state.", []string{"stage", "state"}, nil),
		errs: prometheus.NewCounter(prometheus.CounterOpts{Name: "shipgate_releases_scrape_errors_total", Help: "Failed visibility queries for shipgate_releases."}),
	}
}

// Describe implements prometheus.Collector.
func (c *ReleasesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	c.errs.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *ReleasesCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.at) > c.ttl {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		counts, err := c.count(ctx)
		cancel()
		if err != nil {
			c.errs.Inc()
		} else {
			c.cached, c.at = counts, time.Now()
		}
	}
	counts := c.cached
	c.mu.Unlock()
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k.Stage, k.State)
	}
	c.errs.Collect(ch)
}
