package telemetry

import (
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.temporal.io/sdk/client"
)

// Metrics is the worker's Prometheus registry: Go and process collectors, the SDK's metrics
// through SDKMetrics, and shipgate's own.
type Metrics struct {
	Registry      *prometheus.Registry
	CheckOutcomes *prometheus.CounterVec   // shipgate_check_outcomes_total{gate,check,type,outcome}
	TrafficMoves  *prometheus.CounterVec   // shipgate_traffic_changes_total{environment,result}
	Notices       *prometheus.CounterVec   // shipgate_notices_total{kind}
	CheckSeconds  *prometheus.HistogramVec // shipgate_check_duration_seconds{type}
	// AnalysisVerdicts is shipgate_analysis_verdicts_total{metric,verdict}.
	AnalysisVerdicts *prometheus.CounterVec
	// SlackSeconds is shipgate_slack_duration_seconds{op}: one notice or signoff message
	// delivered to Slack (lookups, post or update), op notice or signoff.
	SlackSeconds *prometheus.HistogramVec
}

// NewMetrics builds the registry.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		CheckOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shipgate_check_outcomes_total", Help: "Automated gate check verdicts.",
		}, []string{"gate", "check", "type", "outcome"}),
		TrafficMoves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shipgate_traffic_changes_total", Help: "Traffic changes sent to the backend.",
		}, []string{"environment", "result"}),
		Notices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shipgate_notices_total", Help: "Notifications sent about releases.",
		}, []string{"kind"}),
		CheckSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shipgate_check_duration_seconds", Help: "Time to fetch and evaluate a check's evidence.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"type"}),
	}
	m.AnalysisVerdicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shipgate_analysis_verdicts_total", Help: "Canary and production-step analysis verdicts per metric.",
	}, []string{"metric", "verdict"})
	m.SlackSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "shipgate_slack_duration_seconds", Help: "Time to deliver one notice or signoff message to Slack.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"op"})
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.CheckOutcomes, m.TrafficMoves, m.Notices, m.CheckSeconds, m.AnalysisVerdicts, m.SlackSeconds)
	return m
}

// SDKMetrics adapts the Temporal SDK's metrics handler to the registry. A metric's label names
// are fixed by its first use; tags outside them are dropped, missing ones are empty, because
// Prometheus needs one label set per name.
type SDKMetrics struct {
	reg  prometheus.Registerer
	tags map[string]string
	vecs *vecs
}

type vecs struct {
	mu       sync.Mutex
	counters map[string]*labelled[*prometheus.CounterVec]
	gauges   map[string]*labelled[*prometheus.GaugeVec]
	hists    map[string]*labelled[*prometheus.HistogramVec]
}

type labelled[V any] struct {
	vec    V
	labels []string
}

var _ client.MetricsHandler = (*SDKMetrics)(nil)

// NewSDKMetrics registers SDK metrics on reg.
func NewSDKMetrics(reg prometheus.Registerer) *SDKMetrics {
	return &SDKMetrics{reg: reg, tags: map[string]string{}, vecs: &vecs{
		counters: map[string]*labelled[*prometheus.CounterVec]{},
		gauges:   map[string]*labelled[*prometheus.GaugeVec]{},
		hists:    map[string]*labelled[*prometheus.HistogramVec]{},
	}}
}

// WithTags returns a handler that adds tags.
func (h *SDKMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return &SDKMetrics{reg: h.reg, tags: merged, vecs: h.vecs}
}

var invalidName = regexp.MustCompile(`[^a-zA-Z0-9_]`)

func promName(name string) string { return invalidName.ReplaceAllString(name, "_") }

func (h *SDKMetrics) labelNames() []string {
	names := make([]string, 0, len(h.tags))
	for k := range h.tags {
		names = append(names, promName(k))
	}
	sort.Strings(names)
	return names
}

func (h *SDKMetrics) values(labels []string) []string {
	byName := make(map[string]string, len(h.tags))
	for k, v := range h.tags {
		byName[promName(k)] = v
	}
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = byName[l]
	}
	return out
}

// register adds c, or returns the collector already registered under the same name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

// Counter returns a counter.
func (h *SDKMetrics) Counter(name string) client.MetricsCounter {
	h.vecs.mu.Lock()
	defer h.vecs.mu.Unlock()
	v, ok := h.vecs.counters[name]
	if !ok {
		labels := h.labelNames()
		vec := register(h.reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: promName(name), Help: "Temporal SDK metric " + name}, labels))
		v = &labelled[*prometheus.CounterVec]{vec: vec, labels: labels}
		h.vecs.counters[name] = v
	}
	c := v.vec.WithLabelValues(h.values(v.labels)...)
	return counterFunc(func(d int64) { c.Add(float64(d)) })
}

// Gauge returns a gauge.
func (h *SDKMetrics) Gauge(name string) client.MetricsGauge {
	h.vecs.mu.Lock()
	defer h.vecs.mu.Unlock()
	v, ok := h.vecs.gauges[name]
	if !ok {
		labels := h.labelNames()
		vec := register(h.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: promName(name), Help: "Temporal SDK metric " + name}, labels))
		v = &labelled[*prometheus.GaugeVec]{vec: vec, labels: labels}
		h.vecs.gauges[name] = v
	}
	return gaugeFunc(v.vec.WithLabelValues(h.values(v.labels)...).Set)
}

// Timer returns a timer recorded as a histogram in seconds.
func (h *SDKMetrics) Timer(name string) client.MetricsTimer {
	h.vecs.mu.Lock()
	defer h.vecs.mu.Unlock()
	v, ok := h.vecs.hists[name]
	if !ok {
		labels := h.labelNames()
		pn := promName(name)
		if !strings.HasSuffix(pn, "_seconds") {
			pn += "_seconds"
		}
		vec := register(h.reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: pn, Help: "Temporal SDK metric " + name,
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12)}, labels))
		v = &labelled[*prometheus.HistogramVec]{vec: vec, labels: labels}
		h.vecs.hists[name] = v
	}
	o := v.vec.WithLabelValues(h.values(v.labels)...)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
