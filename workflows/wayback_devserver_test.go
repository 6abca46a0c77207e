package workflows

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/shipgate/shipgate/activities"
	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/searchattr"
)

// wayBackStack runs ReleaseWorkflow on the Temporal dev server with an in-process worker and
// the fake activities, so the way back's timers, retries and cancellation run on a real
// server (and their histories can be recorded for the replay test).
type wayBackStack struct {
	t     *testing.T
	c     client.Client
	queue string
	act   *fakeActivities
	pol   *release.Policy
	// gates, when set, evaluates the checks named in real (the worker's own activity, on the
	// stack's evidence store and server); the fake answers every other check.
	gates *activities.Gates
	real  map[string]bool
}

func (s *wayBackStack) evaluateCheck(ctx context.Context, req release.CheckRequest) (release.CheckResult, error) {
	if s.gates != nil && s.real[req.Check.Name] {
		return s.gates.EvaluateCheck(ctx, req)
	}
	return s.act.EvaluateCheck(ctx, req)
}

func newWayBackStack(t *testing.T) *wayBackStack {
	t.Helper()
	c := devstack.TestServer(t)
	require.NoError(t, searchattr.Ensure(context.Background(), c, "default"))
	_, pol := testInput(t, devWindows)
	s := &wayBackStack{t: t, c: c, queue: "wayback", act: &fakeActivities{outcome: map[string]release.Outcome{}}, pol: pol}
	w := worker.New(c, s.queue, worker.Options{})
	Register(w)
	activities.RegisterLanes(w, &activities.Lanes{Client: c})
	w.RegisterActivityWithOptions(s.evaluateCheck, activity.RegisterOptions{Name: release.ActivityEvaluateCheck})
	w.RegisterActivityWithOptions(s.act.SetTraffic, activity.RegisterOptions{Name: release.ActivitySetTraffic})
	w.RegisterActivityWithOptions(s.act.Notify, activity.RegisterOptions{Name: release.ActivityNotify})
	w.RegisterActivityWithOptions(s.act.SignoffMessage, activity.RegisterOptions{Name: release.ActivitySignoffMessage})
	w.RegisterActivityWithOptions(func(_ context.Context, req release.PolicyRequest) (release.PolicyResult, error) {
		return release.PolicyResult{Name: req.Name, Policy: *s.pol, Digest: s.pol.Digest()}, nil
	}, activity.RegisterOptions{Name: release.ActivityLoadPolicy})
	// the way back is never held: this stack has no line (stopline_devserver_test.go has)
	w.RegisterActivityWithOptions(func(_ context.Context, req release.JoinLineRequest) (release.LineState, error) {
		return release.LineState{Policy: req.Policy}, nil
	}, activity.RegisterOptions{Name: release.ActivityJoinLine})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return s
}

// devWindows makes every window a second long: the dev profile allows it.
func devWindows(m *release.Manifest, p *release.Policy) {
	p.Profile = release.ProfileDev
	p.Windows = release.Windows{TestnetSoak: release.Duration(time.Second), CanaryWatchMin: release.Duration(time.Second), CanaryWatchMax: release.Duration(2 * time.Second)}
	for i := range p.Rollout.Steps {
		p.Rollout.Steps[i].Bake = release.Duration(time.Second)
	}
	measureBriefly(p)
}

// start starts a release of version from 1.9.0 (startFrom), signed by rm-ada.
func (s *wayBackStack) start(version string) client.WorkflowRun { return s.startFrom(version, "1.9.0") }

func (s *wayBackStack) status(run client.WorkflowRun) release.Status {
	v, err := s.c.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), release.QueryStatus)
	require.NoError(s.t, err)
	var st release.Status
	require.NoError(s.t, v.Get(&st))
	return st
}

func (s *wayBackStack) signal(run client.WorkflowRun, name string, cmd release.Command) {
	cmd.Channel = release.ChannelCLI
	require.NoError(s.t, control.Sign(testKeys.MustSigner(cmd.Actor), name, &cmd, release.Binding{Release: run.GetID(), Run: run.GetRunID()}, time.Now()))
	require.NoError(s.t, s.c.SignalWorkflow(context.Background(), run.GetID(), run.GetRunID(), name, cmd))
}

// drive approves every open signoff, as the test people do (devstack.Approvers, signed),
// until until(status) holds.
func (s *wayBackStack) drive(run client.WorkflowRun, until func(release.Status) bool) release.Status {
	sent := map[string]bool{}
	deadline := time.Now().Add(5 * time.Minute) // a hang, not slowness: the machine may be starved
	for {
		st := s.status(run)
		if until(st) {
			return st
		}
		require.False(s.t, st.State.Final(), "release ended %s: %s", st.State, st.Reason)
		require.True(s.t, time.Now().Before(deadline), "release stuck in %s/%s", st.Stage, st.State)
		r := devstack.Release{In: release.Input{Manifest: release.Manifest{Service: st.Service, Version: st.Version, Author: st.Author}},
			Policy: s.pol, Keys: &testKeys}
		_, err := devstack.Approvers(context.Background(), s.c, r, st, sent)
		require.NoError(s.t, err)
		time.Sleep(200 * time.Millisecond)
	}
}

// record saves the execution's history for the replay test when
// SHIPGATE_RECORD_WAYBACK_HISTORY=1, and reports its size.
func (s *wayBackStack) record(run client.WorkflowRun, name string) {
	it := s.c.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(s.t, err)
		hist.Events = append(hist.Events, ev)
	}
	s.t.Logf("history of %s: %d events", run.GetID(), len(hist.Events))
	if os.Getenv("SHIPGATE_RECORD_WAYBACK_HISTORY") == "" {
		return
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(s.t, err)
	require.NoError(s.t, os.WriteFile(filepath.Join("testdata", "histories", name), b, 0o644))
}

// On the dev server: the 25 % step refused, the way back refused too (one round), a person's
// abort starts the next round at once, traffic back at 0 %, the release rolled_back; then a
// second release canceled in its canary ends canceled with its traffic back.
func TestWayBackOnDevServer(t *testing.T) {
	s := newWayBackStack(t)
	var mu sync.Mutex
	var refusedAt, backAt time.Time
	rollbackFails := rollbackRoundAttempts + 1 // round 1, and the first attempt of round 2
	s.act.trafficErr = func(req release.TrafficRequest) error {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case strings.HasSuffix(req.IdempotencyKey, "/production-25"):
			refusedAt = time.Now()
			return refused("split rejected")
		case req.Rollback && rollbackFails > 0:
			rollbackFails--
			return refusedOnTheWayBack("environment locked")
		case req.Rollback:
			backAt = time.Now()
		}
		return nil
	}

	run := s.start("2.0.0")
	failing := s.drive(run, func(st release.Status) bool { return st.State == release.StateRollbackFailed })
	require.Contains(t, failing.Reason, "environment locked")
	require.Equal(t, 5.0, failing.TrafficPercent)
	// the state people filter and alert on says so too
	desc, err := s.c.DescribeWorkflowExecution(context.Background(), run.GetID(), run.GetRunID())
	require.NoError(t, err)
	var state string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[release.SearchAttrState], &state))
	require.Equal(t, string(release.StateRollbackFailed), state)
	s.signal(run, release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "lock released, go"})
	var res release.Result
	require.NoError(t, run.Get(context.Background(), &res))
	require.Equal(t, release.StateRolledBack, res.State)
	require.Contains(t, res.Reason, "failed: production-25")
	mu.Lock()
	t.Logf("25 %% step refused → traffic back at 0 %%: %s (one failed round of %d attempts, then a person's abort)", backAt.Sub(refusedAt).Round(time.Millisecond), rollbackRoundAttempts)
	mu.Unlock()
	require.Less(t, backAt.Sub(refusedAt), rollbackWaitFirst, "the abort started the next round before its wait ended")
	s.record(run, "v9-way-back-failed-step.json")

	run = s.start("2.1.0")
	s.drive(run, func(st release.Status) bool { return st.Stage == release.StageCanary && st.TrafficPercent > 0 })
	require.NoError(t, s.c.CancelWorkflow(context.Background(), run.GetID(), run.GetRunID()))
	err = run.Get(context.Background(), nil)
	require.True(t, temporal.IsCanceledError(err), "%v", err)
	st := s.status(run)
	require.Equal(t, release.StateAborted, st.State)
	require.Equal(t, 0.0, st.TrafficPercent)
	s.record(run, "v9-way-back-canceled.json")
}
