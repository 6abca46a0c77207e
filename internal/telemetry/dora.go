package telemetry

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shipgate/shipgate/internal/dora"
)

// DORASource returns the releases running or ended since a time (dora.Source.Releases).
type DORASource func(ctx context.Context, since time.Time) ([]dora.Release, error)

// DORACollector exports the DORA metrics of the last window, per service, as gauges:
//
//	shipgate_dora_deployments{service}                    deployments to 100 % in the window
//	shipgate_dora_deployment_frequency_per_day{service}
//	shipgate_dora_lead_time_seconds{service,quantile}     commit → 100 % (0.5, 0.9)
//	shipgate_dora_change_failure_ratio{service}           failed / ended after reaching production
//	shipgate_dora_time_to_restore_seconds{service,quantile}
//	shipgate_dora_window_seconds
//
// They are computed from the releases on scrape and cached for ttl: reading a release means a
// status query, so a busy Prometheus must not turn into replays.
type DORACollector struct {
	src         DORASource
	window, ttl time.Duration
	now         func() time.Time

	deploys, perDay, lead, cfr, restore, windowSecs *prometheus.Desc
	errs                                            prometheus.Counter

	mu     sync.Mutex
	at     time.Time
	cached *dora.Report
}

// NewDORACollector builds the collector over the last window.
func NewDORACollector(src DORASource, window, ttl time.Duration) *DORACollector {
	svc := []string{"service"}
	q := []string{"service", "quantile"}
	return &DORACollector{src: src, window: window, ttl: ttl, now: time.Now,
		deploys:    prometheus.NewDesc("shipgate_dora_deployments", "Releases that reached 100 % of production in the DORA window.", svc, nil),
		perDay:     prometheus.NewDesc("shipgate_dora_deployment_frequency_per_day", "Deployments to 100 % of production per day over the DORA window.", svc, nil),
		lead:       prometheus.NewDesc("shipgate_dora_lead_time_seconds", "Lead time for changes: the manifest's commitTime to 100 % of production.", q, nil),
		cfr:        prometheus.NewDesc("shipgate_dora_change_failure_ratio", "Releases rolled back, aborted or failed after reaching production, over those that ended after reaching it.", svc, nil),
		restore:    prometheus.NewDesc("shipgate_dora_time_to_restore_seconds", "Time to restore: the way out's start to production back on the previous version.", q, nil),
		windowSecs: prometheus.NewDesc("shipgate_dora_window_seconds", "The period the DORA metrics cover.", nil, nil),
		errs:       prometheus.NewCounter(prometheus.CounterOpts{Name: "shipgate_dora_scrape_errors_total", Help: "Failed reads of the releases for the DORA metrics."}),
	}
}

// Describe implements prometheus.Collector.
func (c *DORACollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.deploys, c.perDay, c.lead, c.cfr, c.restore, c.windowSecs} {
		ch <- d
	}
	c.errs.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *DORACollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if now := c.now(); c.cached == nil || now.Sub(c.at) > c.ttl {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		rs, err := c.src(ctx, now.Add(-c.window))
		cancel()
		if err != nil {
			c.errs.Inc()
		} else {
			rep := dora.Compute(rs, now.Add(-c.window), now)
			c.cached, c.at = &rep, now
		}
	}
	rep := c.cached
	c.mu.Unlock()
	c.errs.Collect(ch)
	if rep == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.windowSecs, prometheus.GaugeValue, c.window.Seconds())
	for _, m := range rep.Services {
		ch <- prometheus.MustNewConstMetric(c.deploys, prometheus.GaugeValue, float64(m.Deployments), m.Service)
		ch <- prometheus.MustNewConstMetric(c.perDay, prometheus.GaugeValue, m.PerDay, m.Service)
		ch <- prometheus.MustNewConstMetric(c.cfr, prometheus.GaugeValue, m.ChangeFailureRate, m.Service)
		quantiles(ch, c.lead, m.Service, m.LeadTime)
		quantiles(ch, c.restore, m.Service, m.TimeToRestore)
	}
}

// quantiles exports a summary's median and 90th percentile, only when it has data: no series
// is "not measured", never zero.
func quantiles(ch chan<- prometheus.Metric, d *prometheus.Desc, service string, s dora.Durations) {
	if s.N == 0 {
		return
	}
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, s.Median.Seconds(), service, "0.5")
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, s.P90.Seconds(), service, "0.9")
}
