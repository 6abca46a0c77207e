package workflows_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
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
	c := devstack.TestServer(t)
	app := promtest.NewApp(t)
	app.Serve("demo", "1.9.0", 100, 0, 20*time.Millisecond)
	app.Serve("demo", "2.0.0", 50, 0, 20*time.Millisecond)
	srv := promtest.Start(t, app, promtest.Options{Services: []string{"demo"}})
	// a few seconds of history, so the first interval's rate() has data
	srv.WaitFor(t, `count_over_time(up{job="app"}[10s]) >= 3`, 30*time.Second)
	s := &analysisStack{t: t, client: c, app: app, prom: srv, queue: "analysis-" + strings.ReplaceAll(t.Name(), "/", "-")}
	w := worker.New(c, s.queue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.AnalysisWorkflow, workflows.AnalysisRegisterOptions())
	activities.RegisterAnalysis(w, &activities.Analysis{PrometheusURL: srv.URL, HTTP: &http.Client{Timeout: 5 * time.Second},
		AlertPoll: 250 * time.Millisecond})
	w.RegisterActivityWithOptions((&activities.Notify{}).Notify, activity.RegisterOptions{Name: release.ActivityNotify})
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
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, release.AnalysisWorkflowName, in)
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

// recordHistory writes a run's history to testdata/histories/<prefix>-<what>.json for the
// replay test, when SHIPGATE_RECORD_ANALYSIS_HISTORY gives the prefix (e.g. analysis-v1).
func recordHistory(t *testing.T, what string, h *historypb.History) {
	prefix := os.Getenv("SHIPGATE_RECORD_ANALYSIS_HISTORY")
	if prefix == "" {
		return
	}
	name := strings.TrimSuffix(strings.TrimSpace(prefix), ".json") + "-" + what + ".json"
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "histories", filepath.Base(name))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s (%d events)", path, len(h.Events))
}

// A healthy canary measured on live data is promoted after the intervals it needs; the run's
// history is the one recorded for the replay test.
func TestAnalysisOnDevServerPromotesHealthyCanary(t *testing.T) {
	s := newAnalysisStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	spec := demoSpec(t, "1s")
	run := s.start(ctx, "analysis-promote", analysisInput(spec, time.Second, 0, time.Minute, 3))
	var out release.AnalysisOutcome
	if err := run.Get(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if out.Action != analysis.Promote || out.Intervals != 3 {
		t.Fatalf("outcome %+v, want promote after 3 intervals", out)
	}
	if len(out.Metrics) != 1 || out.Metrics[0].Passes != 3 || !strings.Contains(out.Metrics[0].Last.Query, `version="2.0.0"`) {
		t.Fatalf("outcome metrics %+v, want 3 passes with the rendered query", out.Metrics)
	}
	recordHistory(t, "promote", s.history(run.GetID(), run.GetRunID()))
}

// A firing SLO alert in the real Prometheus rolls back long before the interval ends.
func TestAnalysisOnDevServerAlertRollsBackBeforeTheIntervalEnds(t *testing.T) {
	s := newAnalysisStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const interval = 30 * time.Second
	run := s.start(ctx, "analysis-alert", analysisInput(demoSpec(t, "30s"), interval, 0, time.Hour, 10))
	time.Sleep(2 * time.Second) // the first interval is being watched
	// 60 % of the canary's 50 requests/s fail: 20 % of the service's, above the rule's 5 %
	s.app.Serve("demo", "2.0.0", 50, 0.6, 20*time.Millisecond)
	fault := time.Now()
	var out release.AnalysisOutcome
	if err := run.Get(ctx, &out); err != nil {
		t.Fatal(err)
	}
	took := time.Since(fault)
	t.Logf("fault → rollback decision: %s (interval %s): %s", took, interval, out.Reason)
	if out.Action != analysis.Rollback || out.Intervals != 1 {
		t.Fatalf("outcome %+v, want rollback in the first interval", out)
	}
	if took >= interval-2*time.Second {
		t.Fatalf("rollback %s after the fault: the interval's end, not the alert, decided", took)
	}
	for _, want := range []string{"SLO alert firing: ShipgateHighErrorRate{", `service="demo"`, `severity="page"`} {
		if !strings.Contains(out.Reason, want) {
			t.Fatalf("reason %q lacks %q", out.Reason, want)
		}
	}
	recordHistory(t, "alert-rollback", s.history(run.GetID(), run.GetRunID()))
}

// Prometheus stopped in the middle of a run: the verdicts are measurement errors and the run
// pauses for a person past consecutiveErrorLimit; it never passes.
func TestAnalysisOnDevServerPrometheusStoppedMidRun(t *testing.T) {
	s := newAnalysisStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := s.start(ctx, "analysis-prom-down", analysisInput(demoSpec(t, "1s"), time.Second, 0, time.Hour, 100))
	for {
		v, err := s.client.QueryWorkflow(ctx, run.GetID(), "", release.QueryStatus)
		var live release.AnalysisOutcome
		if err == nil && v.Get(&live) == nil && live.Intervals >= 2 {
			if m := live.Metrics[0]; m.Passes < 2 || len(live.Recent) < 2 {
				t.Fatalf("live status before the outage: %+v", live)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.prom.Stop()
	var out release.AnalysisOutcome
	if err := run.Get(ctx, &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s after %d intervals: %s; %s", out.Action, out.Intervals, out.Reason, out.Metrics[0].TimelineString())
	m := out.Metrics[0]
	if out.Action != analysis.Pause || !strings.Contains(out.Reason, "could not be measured 3 times in a row > consecutiveErrorLimit 2") {
		t.Fatalf("outcome %+v, want a pause past the error limit", out)
	}
	if !m.Last.Error || m.Last.Outcome != analysis.Inconclusive || m.Errors != 3 || !strings.HasSuffix(m.TimelineString(), "error×3") {
		t.Fatalf("metric %+v: want the last three intervals as errors", m)
	}
}

// Every run of the child stays under 10,000 events. The child runs through two
// continues-as-new on the dev server (real activities; runs shortened to 10 intervals, since the
// dev server fires a timer about a second late whatever its length) and each run's history is
// read back: events = fixed + perInterval × intervals, measured. A 48-hour canary at 1-minute
// intervals is 2,880 intervals: 7 runs of 400 and one of 80, computed from those numbers.
func TestAnalysisOnDevServerHistoryPerRun(t *testing.T) {
	s := newAnalysisStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const total, perRun = 25, 10
	in := analysisInput(demoSpec(t, "1s"), 20*time.Millisecond, 0, time.Hour, total)
	in.IntervalsPerRun = perRun
	run := s.start(ctx, "analysis-history", in)
	first := run.GetRunID() // Get follows the runs and moves GetRunID to the last one
	var out release.AnalysisOutcome
	if err := run.Get(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if out.Action != analysis.Promote || out.Intervals != total {
		t.Fatalf("outcome %+v, want promote after %d intervals", out, total)
	}
	var sizes []int
	for runID := first; runID != ""; {
		h := s.history(run.GetID(), runID)
		sizes = append(sizes, len(h.Events))
		runID = ""
		if last := h.Events[len(h.Events)-1]; last.GetWorkflowExecutionContinuedAsNewEventAttributes() != nil {
			runID = last.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
		}
	}
	t.Logf("events per run: %v", sizes)
	if len(sizes) != 3 {
		t.Fatalf("%d runs, want 3 (10, 10 and 5 intervals)", len(sizes))
	}
	perInterval := float64(sizes[0]-sizes[2]) / float64(perRun-total%perRun)
	fixed := float64(sizes[2]) - perInterval*float64(total%perRun)
	full := fixed + perInterval*400
	last := fixed + perInterval*float64(2880-7*400)
	t.Logf("measured: %.1f events per interval + %.0f per run; a 48 h canary at 1 min (computed): 7 runs of %.0f events and one of %.0f, %.0f in all",
		perInterval, fixed, full, last, 7*full+last)
	if perInterval > 11 {
		t.Errorf("%.1f events per interval: more than the 11 intervalsPerRun (400) is sized for", perInterval)
	}
	if full >= 10000 {
		t.Errorf("a run of 400 intervals would have %.0f events: over the 10,000 budget", full)
	}
}
