package workflows_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/shipgate/shipgate/activities"
	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/analysis/promtest"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/workflows"
)

// analysisStack is AnalysisWorkflow on its own, on real parts: the Temporal dev server, an
// in-process worker with the real activities, and a real Prometheus scraping a test application
// whose canary (demo 2.0.0) and baseline (demo 1.9.0) the test makes healthy or faulty.
type analysisStack struct {
	t      *testing.T
	client client.Client
	app    *promtest.App
	prom   *promtest.Server
	queue  string
}

func newAnalysisStack(t *testing.T) *analysisStack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmp, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tmp.Stop() })
	app := promtest.NewApp(t)
	app.Serve("demo", "1.9.0", 100, 0, 20*time.Millisecond)
	app.Serve("demo", "2.0.0", 50, 0, 20*time.Millisecond)
	srv := promtest.Start(t, app, promtest.Options{Services: []string{"demo"}})
	// a few seconds of history, so the first interval's rate() has data
	srv.WaitFor(t, `count_over_time(up{job="app"}[10s]) >= 3`, 30*time.Second)
	c, err := client.Dial(client.Options{HostPort: tmp.Address, Logger: log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s := &analysisStack{t: t, client: c, app: app, prom: srv, queue: "analysis-" + strings.ReplaceAll(t.Name(), "/", "-")}
	w := worker.New(c, s.queue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.AnalysisWorkflow, workflows.AnalysisRegisterOptions())
	activities.RegisterAnalysis(w, &activities.Analysis{PrometheusURL: srv.URL, HTTP: &http.Client{Timeout: 5 * time.Second}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return s
}

// demoSpec judges the canary's error ratio against 5 % and watches the service's SLO alerts.
func demoSpec(t *testing.T, interval string) analysis.Spec {
	t.Helper()
	s, err := analysis.LoadSpec("spec.yaml", []byte(`
interval: `+interval+`
alerts:
  service: "{{.Service}}"
metrics:
  - name: error-rate
    query: |
      (sum(rate(http_requests_total{service="{{.Service}}",version="{{.Version}}",code=~"5.."}[5s])) or vector(0))
        / sum(rate(http_requests_total{service="{{.Service}}",version="{{.Version}}"}[5s]))
    threshold: 0.05
    direction: max
    inconclusiveLimit: 3
    consecutiveErrorLimit: 2
`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// input is an analysis that promotes after required intervals (and no earlier than min).
func analysisInput(spec analysis.Spec, interval, minD, maxD time.Duration, required int) release.AnalysisInput {
	return release.AnalysisInput{
		ReleaseID: "release/demo/2.0.0", Step: release.WindowCanaryWatch, Spec: spec,
		Vars:     analysis.Vars{Service: "demo", Version: "2.0.0", BaselineVersion: "1.9.0", Stage: "canary", Interval: spec.Interval},
		Interval: interval, Min: minD, Max: maxD, StartedAt: time.Now(), Run: analysis.NewRun(spec, required),
	}
}

func (s *analysisStack) start(ctx context.Context, id string, in release.AnalysisInput) client.WorkflowRun {
	s.t.Helper()
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, release.WorkflowAnalysis, in)
	if err != nil {
		s.t.Fatal(err)
	}
	return run
}

// history reads one run's history from the server.
func (s *analysisStack) history(id, runID string) *historypb.History {
	s.t.Helper()
	it := s.client.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	return h
}

// recordHistory writes a run's history to testdata/histories/<name> for the replay test, when
// SHIPGATE_RECORD_ANALYSIS_HISTORY names the file (e.g. analysis-v1-alerts.json).
func recordHistory(t *testing.T, h *historypb.History) {
	name := os.Getenv("SHIPGATE_RECORD_ANALYSIS_HISTORY")
	if name == "" {
		return
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "histories", filepath.Base(strings.TrimSpace(name)))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s (%d events)", path, len(h.Events))
}

// A healthy canary measured on live data is promoted after the intervals it needs; the run's
// history is the one recorded for the replay test.
func TestAnalysisOnDevServerPromotesHealthyCanary(t *testing.T) {
	s := newAnalysisStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := demoSpec(t, "1s")
	run := s.start(ctx, "analysis-promote", analysisInput(spec, time.Second, 0, time.Minute, 3))
	var out release.AnalysisOutcome
	if err := run.Get(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if out.Action != "promote" || out.Intervals != 3 {
		t.Fatalf("outcome %+v, want promote after 3 intervals", out)
	}
	recordHistory(t, s.history(run.GetID(), run.GetRunID()))
}
