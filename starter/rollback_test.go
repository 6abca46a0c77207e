package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/checks"
	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/release"
)

// A canary that starts failing is rolled back by the analysis on live Prometheus data, with no
// signal, approval or person on the path.
func TestFaultyCanaryRolledBackAutomatically(t *testing.T) {
	s := newStack(t)
	manifest, policy := s.writeRelease("3s")
	in, err := release.Load(manifest, policy, checks.Validate)
	if err != nil {
		t.Fatal(err)
	}
	in.Policy.Windows.CanaryWatchMin = release.Duration(30 * time.Second) // room for the fault to show
	in.Policy.Windows.CanaryWatchMax = release.Duration(40 * time.Second)
	c, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := control.Start(ctx, c, in, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
		t.Fatal(err)
	}
	took := make(chan time.Duration, 1)
	go func() {
		d, err := devstack.BreakCanary(ctx, c, in.Manifest.ID(), s.demoURL, io.Discard)
		if err != nil {
			t.Error(err)
		}
		took <- d
	}()
	st, err := devstack.Follow(ctx, c, in, io.Discard, true)
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
	t.Logf("fault → canary at 0 %%: %s", <-took)
}
