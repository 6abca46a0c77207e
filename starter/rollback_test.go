package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/release"
)

// A canary that starts failing is rolled back by the analysis on live Prometheus data, with no
// signal, approval or person on the path.
func TestFaultyCanaryRolledBackAutomatically(t *testing.T) {
	s := newStack(t)
	// room for the fault to show in the canary watch
	manifest, policy := s.writeRelease("3s", "canaryWatchMin: 2s", "canaryWatchMin: 30s") // the demo's max is 40s
	r := s.load(manifest, policy)
	in := r.In
	c, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := r.Start(ctx, c, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
		t.Fatal(err)
	}
	took := make(chan time.Duration, 1)
	go func() {
		defer close(took)
		// while the canary is watched, status shows the analysis child's live view; then the fault
		if err := s.checkLiveAnalysis(ctx, c, in.Manifest.ID()); err != nil {
			t.Error(err)
			return
		}
		d, err := devstack.BreakCanary(ctx, c, in.Manifest.ID(), s.demoURL, io.Discard)
		if err != nil {
			t.Error(err)
		}
		took <- d
	}()
	st, err := devstack.Follow(ctx, c, r, io.Discard, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != release.StateRolledBack || st.Stage != release.StageCanary {
		t.Fatalf("ended %s in %s: %s", st.State, st.Stage, st.Reason)
	}
	if !strings.Contains(st.Reason, "analysis of canary-watch failed") || !strings.Contains(st.Reason, "error-rate") {
		t.Fatalf("reason %q does not name the analysis and the metric", st.Reason)
	}
	if split := s.demo.State().Environments["production"]; split.CanaryPercent != 0 || split.Stable != "1.3.0" {
		t.Fatalf("production split after the rollback: %+v", split)
	}
	for _, a := range st.Audit {
		switch a.Action {
		case release.SignalRollback, release.SignalAbort, release.SignalPause, release.SignalResume:
		default:
			continue
		}
		if a.Channel != release.ChannelAuto {
			t.Fatalf("a person acted on the rollback path: %+v", a)
		}
	}
	var analysisAudit release.AuditEntry
	for _, e := range st.Audit {
		if e.Action == "analysis" && e.Target == release.WindowCanaryWatch {
			analysisAudit = e
		}
	}
	if len(analysisAudit.Evidence) != 2 || !strings.Contains(analysisAudit.Evidence[0], "error-rate: ") || !strings.Contains(analysisAudit.Evidence[0], "fail×1; canary ") {
		t.Fatalf("the canary analysis's audit entry lacks its intervals in compact form: %+v", analysisAudit)
	}
	if !strings.Contains(st.Reason, "query: ") {
		t.Fatalf("reason %q lacks the failing query", st.Reason)
	}
	t.Logf("fault → canary at 0 %%: %s", <-took)
}

// checkLiveAnalysis waits until the canary analysis has measured two intervals, then checks
// that status (the JSON and the human view) shows its latest verdicts, queries and intervals.
func (s *stack) checkLiveAnalysis(ctx context.Context, c client.Client, id string) error {
	var a release.AnalysisOutcome
	for {
		st, err := control.Status(ctx, c, id)
		if err == nil && len(st.Analyses) > 0 && st.Analyses[0].Action == "running" && st.Analyses[0].Intervals >= 2 {
			a = st.Analyses[0]
			break
		}
		if st.State.Final() {
			return fmt.Errorf("release ended %s before its canary was measured", st.State)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no measured canary interval in status: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(a.Metrics) != 2 || a.Metrics[0].Last == nil || !strings.Contains(a.Metrics[0].Last.Query, `version="1.4.0"`) ||
		a.Metrics[0].Last.Threshold == nil || len(a.Recent) < 2 {
		return fmt.Errorf("live analysis in status lacks verdicts, queries or intervals: %+v", a)
	}
	human, errOut, code := s.cli("status", id)
	if code != 0 {
		return fmt.Errorf("status: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"ANALYSIS", "canary-watch running", "error-rate pass: canary", `query: (sum(rate(http_requests_total{service="demo",version="1.4.0"`, "→ continue"} {
		if !strings.Contains(human, want) {
			return fmt.Errorf("status lacks %q:\n%s", want, human)
		}
	}
	s.t.Logf("status while the canary is watched:\n%s", human)
	return nil
}
