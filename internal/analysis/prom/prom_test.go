package prom_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/analysis/prom"
	"github.com/shipgate/shipgate/internal/analysis/promtest"
)

const spec = `
interval: 10s
alerts:
  service: "{{.Service}}"
metrics:
  - name: error-rate
    query: |
      sum(rate(http_requests_total{service="{{.Service}}",version="{{.Version}}",code=~"5.."}[{{.Interval}}]))
        / sum(rate(http_requests_total{service="{{.Service}}",version="{{.Version}}"}[{{.Interval}}]))
    baselineQuery: |
      sum(rate(http_requests_total{service="{{.Service}}",version="{{.BaselineVersion}}",code=~"5.."}[{{.Interval}}]))
        / sum(rate(http_requests_total{service="{{.Service}}",version="{{.BaselineVersion}}"}[{{.Interval}}]))
    threshold: 0.05
    direction: max
    minRequests:
      query: sum(increase(http_requests_total{service="{{.Service}}",version="{{.Version}}"}[{{.Interval}}]))
      min: 20
    compare: {alpha: 0.05, margin: 0.1, step: 1s}
    minSamples: 5
  - name: p99-latency
    query: |
      histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{.Service}}",version="{{.Version}}"}[{{.Interval}}])))
    threshold: 0.5
    direction: max
    dryRun: true
`

// env is one Prometheus scraping two services: demo (healthy canary v2 next to stable v1) and
// bad (canary v2 answering 30 % 5xx next to a healthy v1).
type env struct {
	srv    *promtest.Server
	client *prom.Client
	spec   analysis.Spec
}

func start(t *testing.T) env {
	t.Helper()
	app := promtest.NewApp(t)
	app.Serve("demo", "v1", 100, 0.01, 20*time.Millisecond)
	app.Serve("demo", "v2", 50, 0, 20*time.Millisecond)
	app.Serve("bad", "v1", 100, 0, 20*time.Millisecond)
	app.Serve("bad", "v2", 50, 0.3, 20*time.Millisecond)
	app.Serve("slow", "v1", 100, 0, 20*time.Millisecond)
	app.Serve("slow", "v2", 50, 0, 300*time.Millisecond)
	srv := promtest.Start(t, app, promtest.Options{Services: []string{"demo", "bad", "slow"}})
	c, err := prom.New(srv.URL, &http.Client{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := analysis.LoadSpec("spec.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the 10 s window holds enough samples for the comparison (minSamples 5).
	srv.WaitFor(t, `count_over_time(up{job="app"}[10s]) >= 8`, 30*time.Second)
	return env{srv, c, s}
}

func vars(service string) analysis.Vars {
	return analysis.Vars{Service: service, Version: "v2", BaselineVersion: "v1", Stage: "canary"}
}

func TestAgainstPrometheus(t *testing.T) {
	e := start(t)
	ctx := t.Context()

	t.Run("healthy canary passes and run is promote-eligible", func(t *testing.T) {
		run := analysis.NewRun(e.spec, 2)
		var d analysis.Decision
		for i := 0; i < 2; i++ {
			res := e.client.MeasureAll(ctx, e.spec, vars("demo"), time.Now())
			for _, v := range res.Verdicts {
				t.Logf("%s: %s (%s) query=%q canary=%v", v.Metric, v.Outcome, v.Rule, v.Query, v.Canary)
			}
			if res.Verdicts[0].Outcome != analysis.Pass {
				t.Fatalf("error-rate verdict = %+v, want pass", res.Verdicts[0])
			}
			if len(res.FiringAlerts) > 0 || res.AlertsError != "" {
				t.Fatalf("alerts %v %q, want none", res.FiringAlerts, res.AlertsError)
			}
			d = run.Record(res)
			time.Sleep(time.Second)
		}
		if d.Action != analysis.PromoteEligible {
			t.Fatalf("decision = %+v, want promote-eligible", d)
		}
		if _, err := json.Marshal(run); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("error-injecting canary fails on threshold and rolls back", func(t *testing.T) {
		e.srv.WaitForAlert(t, "ShipgateHighErrorRate", 20*time.Second)
		res := e.client.MeasureAll(ctx, e.spec, vars("bad"), time.Now())
		v := res.Verdicts[0]
		t.Logf("%s: %s (%s) canary=%v baseline=%v", v.Metric, v.Outcome, v.Rule, v.CanarySamples, v.BaselineSamples)
		if v.Outcome != analysis.Fail || !strings.Contains(v.Rule, "> max 0.05") {
			t.Fatalf("verdict = %+v, want fail on threshold", v)
		}
		if v.Canary[0] < 0.2 || v.Canary[0] > 0.4 {
			t.Fatalf("canary error ratio = %v, want about 0.3", v.Canary)
		}
		run := analysis.NewRun(e.spec, 10)
		if d := run.Record(res); d.Action != analysis.Rollback {
			t.Fatalf("decision = %+v, want rollback", d)
		}
	})

	t.Run("firing alert is found by service label only", func(t *testing.T) {
		alerts, err := e.client.FiringAlerts(ctx, map[string]string{"service": "bad"})
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts) == 0 || alerts[0].Name != "ShipgateHighErrorRate" {
			t.Fatalf("alerts = %+v, want ShipgateHighErrorRate firing", alerts)
		}
		alerts, err = e.client.FiringAlerts(ctx, map[string]string{"service": "demo"})
		if err != nil || len(alerts) != 0 {
			t.Fatalf("demo alerts = %+v, %v; want none", alerts, err)
		}
		// Only the alert fires in this interval's result: the run rolls back at once.
		run := analysis.NewRun(e.spec, 10)
		res := e.client.MeasureAll(ctx, e.spec, vars("bad"), time.Now())
		d := run.Record(analysis.IntervalResult{Verdicts: nil, FiringAlerts: res.FiringAlerts})
		if d.Action != analysis.Rollback || !strings.Contains(d.Reason, "ShipgateHighErrorRate") {
			t.Fatalf("decision = %+v, want rollback naming the alert", d)
		}
	})

	t.Run("alert watch returns as soon as an alert fires, with its labels", func(t *testing.T) {
		polls := 0
		begin := time.Now()
		alerts, err := e.client.WatchAlerts(ctx, map[string]string{"service": "bad"}, begin.Add(time.Minute), 100*time.Millisecond, func(error) { polls++ })
		if err != nil || len(alerts) == 0 {
			t.Fatalf("watch = %v, %v; want the firing alert", alerts, err)
		}
		if time.Since(begin) > 10*time.Second || polls != 1 {
			t.Fatalf("watch took %s and %d polls for an alert already firing", time.Since(begin), polls)
		}
		if got := alerts[0].String(); !strings.HasPrefix(got, "ShipgateHighErrorRate{") || !strings.Contains(got, `service="bad"`) || strings.Contains(got, "alertname") {
			t.Fatalf("alert string %q, want name and labels", got)
		}
		res := e.client.MeasureAll(ctx, e.spec, vars("bad"), time.Now())
		if len(res.FiringAlerts) == 0 || !strings.Contains(res.FiringAlerts[0], `severity="page"`) {
			t.Fatalf("firing alerts %v: want labels in each", res.FiringAlerts)
		}
	})

	t.Run("alert watch on a quiet service lasts until the deadline", func(t *testing.T) {
		polls := 0
		begin := time.Now()
		alerts, err := e.client.WatchAlerts(ctx, map[string]string{"service": "demo"}, begin.Add(1500*time.Millisecond), 200*time.Millisecond, func(err error) {
			if err != nil {
				t.Error(err)
			}
			polls++
		})
		if err != nil || len(alerts) != 0 {
			t.Fatalf("watch = %v, %v; want none", alerts, err)
		}
		if took := time.Since(begin); took < 1500*time.Millisecond || polls < 5 {
			t.Fatalf("watch ended after %s and %d polls, want the whole 1.5 s polled every 200 ms", took, polls)
		}
	})

	t.Run("slower canary fails the Mann-Whitney comparison", func(t *testing.T) {
		latency := analysis.Metric{
			Name:          "p99-vs-baseline",
			Query:         `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{.Service}}",version="{{.Version}}"}[5s])))`,
			BaselineQuery: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{.Service}}",version="{{.BaselineVersion}}"}[5s])))`,
			Direction:     analysis.Max,
			MinSamples:    5,
			Compare:       &analysis.Compare{Alpha: 0.05, Margin: 0.2, Step: "1s"},
		}
		if err := latency.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			service string
			want    analysis.Outcome
		}{{"slow", analysis.Fail}, {"demo", analysis.Pass}} {
			v := e.client.Measure(ctx, latency, analysis.Vars{Service: tc.service, Version: "v2", BaselineVersion: "v1", Interval: "10s"}, time.Now())
			t.Logf("%s: %s (%s) canary=%v baseline=%v", tc.service, v.Outcome, v.Rule, v.CanarySamples, v.BaselineSamples)
			if v.Outcome != tc.want {
				t.Fatalf("%s: verdict %s (%s), want %s", tc.service, v.Outcome, v.Rule, tc.want)
			}
		}
	})

	t.Run("no traffic is inconclusive, not pass", func(t *testing.T) {
		v := e.client.Measure(ctx, e.spec.Metrics[0], analysis.Vars{Service: "demo", Version: "v9", BaselineVersion: "v1", Interval: "10s"}, time.Now())
		if v.Outcome != analysis.Inconclusive || v.Error {
			t.Fatalf("verdict = %+v, want non-error inconclusive", v)
		}
	})

	t.Run("missing template key is an error verdict", func(t *testing.T) {
		v := e.client.Measure(ctx, e.spec.Metrics[0], analysis.Vars{Service: "demo", Version: "v2", Interval: "10s"}, time.Now())
		if v.Outcome != analysis.Inconclusive || !v.Error || !strings.Contains(v.Rule, "BaselineVersion") {
			t.Fatalf("verdict = %+v, want error naming BaselineVersion", v)
		}
	})

	t.Run("range and instant queries", func(t *testing.T) {
		now := time.Now()
		xs, err := e.client.Range(ctx, `up{job="app"}`, now.Add(-5*time.Second), now, time.Second)
		if err != nil || len(xs) < 5 {
			t.Fatalf("range = %v, %v; want >= 5 samples", xs, err)
		}
		xs, err = e.client.Instant(ctx, `vector(1) / 0 * 0`, now)
		if err != nil || len(xs) != 1 || xs[0] == xs[0] {
			t.Fatalf("instant NaN = %v, %v", xs, err)
		}
		if _, err := e.client.Instant(ctx, `up[5s]`, now); err == nil {
			t.Fatal("range vector from instant query: want error")
		}
		if _, err := e.client.Instant(ctx, `sum(`, now); err == nil {
			t.Fatal("bad PromQL: want error")
		}
	})
}

// TestPrometheusStoppedMidRun: when Prometheus goes away the verdicts are error-class
// inconclusive, the run never becomes promote-eligible, and it ends in error past the limit.
func TestPrometheusStoppedMidRun(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	run := analysis.NewRun(e.spec, 3)
	d := run.Record(e.client.MeasureAll(ctx, e.spec, vars("demo"), time.Now()))
	if d.Action != analysis.Continue {
		t.Fatalf("first interval: %+v, want continue", d)
	}
	e.srv.Stop()
	for i := 0; i < 10 && !d.Terminal(); i++ {
		res := e.client.MeasureAll(ctx, e.spec, vars("demo"), time.Now())
		for _, v := range res.Verdicts {
			if v.Outcome != analysis.Inconclusive || !v.Error {
				t.Fatalf("after stop: %+v, want error-class inconclusive", v)
			}
		}
		if res.AlertsError == "" {
			t.Fatal("after stop: alerts error not reported")
		}
		d = run.Record(res)
		if d.Action == analysis.PromoteEligible {
			t.Fatalf("interval %d: promote-eligible with Prometheus down", i)
		}
	}
	if d.Action != analysis.Errored {
		t.Fatalf("decision = %+v, want error", d)
	}
	// the alert watch outlives the outage: it reports each failed poll and ends at its deadline
	var failed int
	alerts, err := e.client.WatchAlerts(ctx, map[string]string{"service": "bad"}, time.Now().Add(time.Second), 200*time.Millisecond, func(err error) {
		if err != nil {
			failed++
		}
	})
	if err != nil || len(alerts) != 0 || failed < 3 {
		t.Fatalf("watch with Prometheus down = %v, %v after %d failed polls", alerts, err, failed)
	}
	t.Log(d.Reason)
}
