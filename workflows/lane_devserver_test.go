package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

// The production lane on the dev server, with the real lane workflow and activities: the
// releases here are of one service, "payments".

// startFrom starts a release of version built on previous, signed by rm-ada; edit changes
// its manifest further.
func (s *wayBackStack) startFrom(version, previous string, edit ...func(*release.Manifest)) client.WorkflowRun {
	in, _ := testInput(s.t, func(m *release.Manifest, p *release.Policy) {
		m.Version, m.PreviousVersion = version, previous
		for _, e := range edit {
			e(m)
		}
	})
	start := release.Command{Actor: "rm-ada", Channel: release.ChannelCLI, Policy: in.PolicyName, Manifest: release.ManifestDigest(&in.Manifest)}
	require.NoError(s.t, control.Sign(testKeys.MustSigner("rm-ada"), release.ActionStart, &start, release.Binding{Release: in.Manifest.ID()}, time.Now()))
	in.Start = &start
	run, err := s.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: in.Manifest.ID(), TaskQueue: s.queue}, release.ReleaseWorkflowName, in)
	require.NoError(s.t, err)
	return run
}

// production lists the production traffic requests of version, in order.
func (s *wayBackStack) production(version string) []release.TrafficRequest {
	s.act.mu.Lock()
	defer s.act.mu.Unlock()
	var out []release.TrafficRequest
	for _, r := range s.act.traffic {
		if r.Environment == "production" && r.Version == version {
			out = append(out, r)
		}
	}
	return out
}

// lastIndex is the position of version's last production request among all requests.
func (s *wayBackStack) lastIndex(version string, first bool) int {
	s.act.mu.Lock()
	defer s.act.mu.Unlock()
	at := -1
	for i, r := range s.act.traffic {
		if r.Environment == "production" && r.Version == version {
			if first {
				return i
			}
			at = i
		}
	}
	return at
}

func (s *wayBackStack) waitsFor(run client.WorkflowRun) string {
	d, err := s.c.DescribeWorkflowExecution(context.Background(), run.GetID(), run.GetRunID())
	require.NoError(s.t, err)
	var v string
	_ = converter.GetDefaultDataConverter().FromPayload(d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[release.SearchAttrWaitsFor], &v)
	return v
}

// holdIn makes a window of every release on the stack last ten minutes, so a test acts on a
// release while it is there, however slow the machine; breakGlass ends it.
func (s *wayBackStack) holdIn(window string) {
	if window == release.WindowCanaryWatch {
		s.pol.Windows.CanaryWatchMin, s.pol.Windows.CanaryWatchMax = release.Duration(10*time.Minute), release.Duration(20*time.Minute)
		return
	}
	for i, st := range s.pol.Rollout.Steps {
		if release.StepWindow(st.Percent) == window {
			s.pol.Rollout.Steps[i].Bake = release.Duration(10 * time.Minute)
		}
	}
}

// breakGlass ends a release's window now: two release managers, neither the author.
func (s *wayBackStack) breakGlass(run client.WorkflowRun, window string) {
	for _, rm := range []string{"rm-ada", "rm-bo"} {
		s.signal(run, release.SignalBreakGlass, release.Command{Actor: rm, Window: window, Reason: "the test moves on"})
	}
}

func (s *wayBackStack) result(run client.WorkflowRun) release.Result {
	var res release.Result
	require.NoError(s.t, run.Get(context.Background(), &res))
	return res
}

// Queue: a second release of the service waits while the first holds production (status and
// the ReleaseWaitsFor search attribute say for whom), moves no production traffic until the
// first has ended, and then goes from what the first left live; a third built on a version
// that is no longer live is refused before any of its traffic moves.
func TestLaneQueuesReleasesOfOneServiceOnDevServer(t *testing.T) {
	s := newWayBackStack(t)
	s.holdIn(release.WindowCanaryWatch)
	a := s.startFrom("2.0.0", "1.9.0")
	s.drive(a, func(st release.Status) bool { return st.Stage == release.StageCanary && st.TrafficPercent > 0 })

	b := s.startFrom("2.1.0", "2.0.0")
	st := s.drive(b, func(st release.Status) bool { return st.Lane != "" })
	require.Equal(t, release.StageCanary, st.Stage)
	require.Contains(t, st.Lane, "waits for release/payments/2.0.0 (queued 1)")
	require.Contains(t, strings.Join(st.WaitingFor, "; "), "production lane: waits for release/payments/2.0.0")
	require.Equal(t, st.Lane, s.waitsFor(b), "list shows whom it waits for")
	require.Empty(t, s.production("2.1.0"), "no production traffic while 2.0.0 holds the lane")

	// The lane takes no one's word: a forged departure of the holder, a forged entry
	// superseding it, an entry for another service's release: refused, nothing changes.
	forge := func(update string, e release.LaneEntry) (release.LaneAnswer, error) {
		h, err := s.c.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{WorkflowID: release.LaneWorkflowID("payments"),
			UpdateName: update, Args: []any{e}, WaitForStage: client.WorkflowUpdateStageCompleted})
		var ans release.LaneAnswer
		if err == nil {
			err = h.Get(context.Background(), &ans)
		}
		return ans, err
	}
	ans, err := forge(release.UpdateLaneLeave, release.LaneEntry{Release: a.GetID(), Run: a.GetRunID(), Version: "2.0.0"})
	require.NoError(t, err)
	require.Contains(t, ans.Refused, "release/payments/2.0.0 still holds production")
	ans, err = forge(release.UpdateLaneEnter, release.LaneEntry{Release: b.GetID(), Run: b.GetRunID(), Version: "2.1.0", Previous: "2.0.0", Mode: release.LaneSupersede})
	require.NoError(t, err)
	require.Contains(t, ans.Refused, "did not ask for this: its status says 2.1.0 from 2.0.0 (queue)")
	_, err = forge(release.UpdateLaneEnter, release.LaneEntry{Release: "release/ledger/9.0.0", Run: b.GetRunID(), Version: "9.0.0", Previous: "2.0.0"})
	require.ErrorContains(t, err, "names a release of payments")
	require.Contains(t, s.status(b).Lane, "waits for release/payments/2.0.0 (queued 1)")
	require.Equal(t, release.StageCanary, s.status(a).Stage, "2.0.0 was not superseded")
	require.False(t, s.status(a).State.Final(), "2.0.0 was not superseded")

	s.breakGlass(a, release.WindowCanaryWatch)
	s.drive(a, func(st release.Status) bool { return st.State.Final() })
	require.Equal(t, release.StateSucceeded, s.result(a).State)
	s.drive(b, func(st release.Status) bool { return st.Stage == release.StageCanary && st.TrafficPercent > 0 })
	s.breakGlass(b, release.WindowCanaryWatch)
	s.drive(b, func(st release.Status) bool { return st.State.Final() })
	require.Equal(t, release.StateSucceeded, s.result(b).State)
	require.Greater(t, s.lastIndex("2.1.0", true), s.lastIndex("2.0.0", false), "2.1.0 moved production traffic only after 2.0.0 ended")
	require.Empty(t, s.waitsFor(b))
	s.record(b, "v10-lane-queued-release.json")
	s.record(s.c.GetWorkflow(context.Background(), release.LaneWorkflowID("payments"), ""), "v10-lane-service.json")
	st = s.status(b)
	require.Equal(t, "2.0.0", st.RollbackPlan.TargetVersion, "the rollback target is what production served")

	c := s.startFrom("2.2.0", "2.0.0") // stale: production serves 2.1.0
	s.drive(c, func(st release.Status) bool { return st.State.Final() })
	res := s.result(c)
	require.Equal(t, release.StateFailed, res.State)
	require.Contains(t, res.Reason, "previousVersion 2.0.0 is not what production serves: 2.1.0 (left by release/payments/2.1.0)")
	require.Empty(t, s.production("2.2.0"))
}

// Supersede: under rollout.concurrency supersede a newer release makes the one holding
// production roll back, then takes the lane from the version that was live before both.
func TestLaneSupersedeRollsTheOlderBackOnDevServer(t *testing.T) {
	s := newWayBackStack(t)
	s.pol.Rollout.Concurrency = release.LaneSupersede
	s.holdIn(release.WindowCanaryWatch)
	a := s.startFrom("2.0.0", "1.9.0")
	s.drive(a, func(st release.Status) bool { return st.Stage == release.StageCanary && st.TrafficPercent > 0 })

	b := s.startFrom("2.0.1", "1.9.0")
	// (its wait in the queue can be too short to see: the queue test shows it)
	s.drive(b, func(st release.Status) bool { return st.Stage == release.StageCanary && st.TrafficPercent > 0 })
	s.breakGlass(b, release.WindowCanaryWatch)
	s.drive(b, func(st release.Status) bool { return st.State.Final() })
	require.Equal(t, release.StateSucceeded, s.result(b).State)
	res := s.result(a)
	require.Equal(t, release.StateRolledBack, res.State)
	require.Contains(t, res.Reason, "superseded by release/payments/2.0.1")
	back := s.production("2.0.0")
	require.Equal(t, 0.0, back[len(back)-1].Percent)
	require.Greater(t, s.lastIndex("2.0.1", true), s.lastIndex("2.0.0", false), "2.0.1 moved traffic only after 2.0.0 was back")
}

// Restore: a release terminated from outside in production holds the lane (the next release
// says why it waits); a person who is not an operator cannot restore it; a release manager's
// restore returns its traffic to the version live before it, audited, and frees the lane.
func TestRestoreTerminatedReleaseOnDevServer(t *testing.T) {
	s := newWayBackStack(t)
	s.holdIn(release.StepWindow(25))
	a := s.startFrom("2.0.0", "1.9.0")
	s.drive(a, func(st release.Status) bool { return st.Stage == release.StageProduction && st.TrafficPercent >= 25 })
	require.NoError(t, s.c.TerminateWorkflow(context.Background(), a.GetID(), a.GetRunID(), "operator pulled the plug"))

	b := s.startFrom("2.0.1", "1.9.0")
	st := s.drive(b, func(st release.Status) bool { return st.Lane != "" })
	require.Contains(t, st.Lane, "release/payments/2.0.0 (terminated: shipgate restore release/payments/2.0.0)")

	_, err := control.Restore(context.Background(), s.c, testKeys.MustSigner("alice"), a.GetID(),
		release.Command{Actor: "alice", Channel: release.ChannelCLI, Reason: "I wrote it, let me fix it"})
	require.ErrorContains(t, err, "alice is not a release manager or operator")

	before := len(s.production("2.0.0"))
	res, err := control.Restore(context.Background(), s.c, testKeys.MustSigner("rm-bo"), a.GetID(),
		release.Command{Actor: "rm-bo", Channel: release.ChannelCLI, Reason: "terminated mid-rollout"})
	require.NoError(t, err)
	require.Equal(t, "1.9.0", res.Live)
	back := s.production("2.0.0")[before:]
	require.NotEmpty(t, back)
	require.Equal(t, 0.0, back[len(back)-1].Percent)
	require.Equal(t, "1.9.0", back[len(back)-1].PreviousVersion)

	s.drive(b, func(st release.Status) bool { return st.Stage == release.StageProduction && st.TrafficPercent >= 25 })
	s.breakGlass(b, release.StepWindow(25))
	s.drive(b, func(st release.Status) bool { return st.State.Final() })
	require.Equal(t, release.StateSucceeded, s.result(b).State)
	s.record(s.c.GetWorkflow(context.Background(), release.RestoreWorkflowID(a.GetID(), a.GetRunID()), ""), "restore-v1.json")
}

// rollback --to: while the way back fails, a person points production at another version;
// the next round takes it, and the lane records it as live.
func TestRollbackToNamedVersionOnDevServer(t *testing.T) {
	s := newWayBackStack(t)
	s.act.trafficErr = func(req release.TrafficRequest) error {
		if req.Rollback && req.PreviousVersion == "1.9.0" {
			return refusedOnTheWayBack("1.9.0 is gone from the cluster")
		}
		return nil
	}
	s.holdIn(release.WindowCanaryWatch)
	a := s.startFrom("2.0.0", "1.9.0")
	s.drive(a, func(st release.Status) bool { return st.Stage == release.StageCanary && st.TrafficPercent > 0 })
	s.signal(a, release.SignalRollback, release.Command{Actor: "rm-ada", Reason: "errors up"})
	s.drive(a, func(st release.Status) bool { return st.State == release.StateRollbackFailed })
	s.signal(a, release.SignalRollback, release.Command{Actor: "rm-ada", Reason: "1.9.0 is gone, 1.8.5 is there", To: "1.8.5"})
	res := s.result(a)
	require.Equal(t, release.StateRolledBack, res.State)
	back := s.production("2.0.0")
	require.Equal(t, "1.8.5", back[len(back)-1].PreviousVersion)
	require.Equal(t, 0.0, back[len(back)-1].Percent)
	st := s.status(a)
	require.Equal(t, "1.8.5", st.RollbackPlan.TargetVersion)

	b := s.startFrom("2.0.1", "1.9.0")
	s.drive(b, func(st release.Status) bool { return st.State.Final() })
	require.Contains(t, s.result(b).Reason, "is not what production serves: 1.8.5")
}
