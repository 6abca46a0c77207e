package workflows

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/shipgate/shipgate/internal/release"
)

// anyType accepts every automated check type: these tests are about the workflow's logic; the
// catalogue of types is tested where it lives.
func anyType(release.CheckKind, string, map[string]string) error { return nil }

func testInput(t *testing.T, edit func(*release.Manifest, *release.Policy)) release.Input {
	t.Helper()
	p, err := release.DefaultPolicy(anyType)
	require.NoError(t, err)
	m := release.Manifest{Service: "payments", Version: "2.0.0", PreviousVersion: "1.9.0", Author: "alice",
		Changes: release.Flags{Major: true, Contracts: true, UserFacing: true}, Evidence: map[string][]string{}}
	for _, g := range p.Gates {
		for _, c := range g.Checks {
			if c.Kind == release.KindEvidence {
				m.Evidence[c.Name] = []string{"/evidence/" + c.Name}
			}
		}
	}
	if edit != nil {
		edit(&m, p)
	}
	return release.Input{Manifest: m, Policy: *p, PolicyDigest: p.Digest(), StartedBy: "rm-ada"}
}

// fakeActivities stand in for the real ones: the real ones have their own integration tests.
type fakeActivities struct {
	mu      sync.Mutex
	traffic []release.TrafficRequest
	notices []release.Notice
	outcome map[string]string // check name → outcome (default pass)
}

func (f *fakeActivities) EvaluateCheck(_ context.Context, req release.CheckRequest) (release.CheckResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.outcome[req.Check.Name]
	if out == "" {
		out = release.OutcomePass
	}
	return release.CheckResult{Outcome: out, Detail: req.Check.Name + " " + out,
		Evidence: []release.EvidenceDigest{{Location: req.Evidence[0], SHA256: fmt.Sprintf("%064d", req.Attempt)}}}, nil
}

func (f *fakeActivities) SetTraffic(_ context.Context, req release.TrafficRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.traffic = append(f.traffic, req)
	return nil
}

func (f *fakeActivities) Notify(_ context.Context, n release.Notice) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notices = append(f.notices, n)
	return nil
}

func (f *fakeActivities) setOutcome(check, outcome string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcome[check] = outcome
}

func (f *fakeActivities) percents() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.traffic {
		out = append(out, fmt.Sprintf("%s:%g", r.Environment, r.Percent))
	}
	return out
}

type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	act *fakeActivities
	in  release.Input
}

func newHarness(t *testing.T, edit func(*release.Manifest, *release.Policy)) *harness {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	act := &fakeActivities{outcome: map[string]string{}}
	env.RegisterWorkflowWithOptions(ReleaseWorkflow, RegisterOptions())
	env.RegisterActivityWithOptions(act.EvaluateCheck, activity.RegisterOptions{Name: release.ActivityEvaluateCheck})
	env.RegisterActivityWithOptions(act.SetTraffic, activity.RegisterOptions{Name: release.ActivitySetTraffic})
	env.RegisterActivityWithOptions(act.Notify, activity.RegisterOptions{Name: release.ActivityNotify})
	return &harness{t: t, env: env, act: act, in: testInput(t, edit)}
}

func (h *harness) status() release.Status {
	v, err := h.env.QueryWorkflow(release.QueryStatus)
	require.NoError(h.t, err)
	var st release.Status
	require.NoError(h.t, v.Get(&st))
	return st
}

func (h *harness) signal(name string, cmd release.Command) {
	if cmd.Channel == "" {
		cmd.Channel = release.ChannelCLI
	}
	h.env.SignalWorkflow(name, cmd)
}

// at runs f after d of workflow time.
func (h *harness) at(d time.Duration, f func()) { h.env.RegisterDelayedCallback(f, d) }

// approveOpen has eligible people approve every open signoff, as the demo approvers do.
func (h *harness) approveOpen() {
	st := h.status()
	for _, g := range st.Gates {
		if g.State == release.GatePending || g.State == release.GatePassed {
			continue
		}
		for _, c := range g.Checks {
			if c.Kind != release.KindSignoff || c.State != release.CheckPending {
				continue
			}
			_, pc := h.in.Policy.FindCheck(c.Name)
			n := len(c.Approvals)
			for _, m := range h.in.Policy.Groups[pc.Group].Members {
				if n >= c.Needed {
					break
				}
				if m.ID == h.in.Manifest.Author || approved(c, m.ID) {
					continue
				}
				h.signal(release.SignalApprove, release.Command{Actor: m.ID, Check: c.Name})
				n++
			}
		}
	}
}

func approved(c release.CheckStatus, id string) bool {
	for _, a := range c.Approvals {
		if a.Actor == id {
			return true
		}
	}
	return false
}

// approveEvery keeps approving open signoffs every step for the given span.
func (h *harness) approveEvery(step, span time.Duration) {
	for d := step; d <= span; d += step {
		h.at(d, h.approveOpen)
	}
}

func (h *harness) run() release.Result {
	h.env.ExecuteWorkflow(ReleaseWorkflow, h.in)
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var res release.Result
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

func (h *harness) auditHas(st release.Status, action, target string, accepted bool, reasonPart string) bool {
	for _, e := range st.Audit {
		if e.Action == action && (target == "" || e.Target == target) && e.Accepted == accepted && strings.Contains(e.Reason, reasonPart) {
			return true
		}
	}
	return false
}

func TestDefaultLifecycleSucceeds(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	var mid release.Status
	h.at(10*24*time.Hour, func() { mid = h.status() })
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	elapsed := h.env.Now().Sub(start)
	// 14 d soak + 24 h canary + 3 × 24 h bakes: the workflow waited all of them.
	require.GreaterOrEqual(t, elapsed, 18*24*time.Hour)
	require.Less(t, elapsed, 19*24*time.Hour)
	require.Equal(t, []string{"staging:100", "testnet:100", "production:5", "production:5", "production:25", "production:100"}, h.act.percents())

	require.Equal(t, release.StageTestnet, mid.Stage)
	require.Equal(t, release.StateWaiting, mid.State)
	soak := mid.Windows[0]
	require.Equal(t, release.WindowTestnetSoak, soak.Name)
	require.Equal(t, release.WindowOpen, soak.State)
	require.Equal(t, 14*24*time.Hour, soak.EndsAt.Sub(soak.StartedAt))
	require.Contains(t, mid.WaitingFor, "window testnet-soak")

	// idempotency keys are unique per step
	keys := map[string]bool{}
	for _, r := range h.act.traffic {
		require.False(t, keys[r.IdempotencyKey], "duplicate key %s", r.IdempotencyKey)
		keys[r.IdempotencyKey] = true
	}
}
