package workflows

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack/people"
	"github.com/shipgate/shipgate/internal/release"
)

// anyType accepts every automated check type: these tests are about the workflow's logic; the
// catalogue of types is tested where it lives.
func anyType(release.CheckKind, string, map[string]string) error { return nil }

// testKeys are the test people's keys, shared by every test (an ed25519 key per person).
var testKeys people.Keyring

// testInput is a release of the default policy's people, and the policy the test worker hands
// out for it, with every member's key and the Slack-bridge key enrolled.
func testInput(t testing.TB, edit func(*release.Manifest, *release.Policy)) (release.Input, *release.Policy) {
	t.Helper()
	p, err := release.DefaultPolicy(anyType)
	require.NoError(t, err)
	require.NoError(t, testKeys.Enroll(p))
	// The seed's analysis measures every minute of four days of canary and bakes: thousands of
	// activities per lifecycle. Tests about other things leave it out; the analysis tests put
	// their own in (withAnalysis).
	p.Analysis = nil
	// The seed's resource-usage probe measures five minutes after the staging deploy: tests
	// about other things measure one second (TestResourceUsageMeasuresAfterTheDeploy keeps 300).
	measureBriefly(p)
	m := release.Manifest{Service: "payments", Version: "2.0.0", PreviousVersion: "1.9.0", Author: "alice", Commit: strings.Repeat("c0ffee", 6) + "c0ff",
		Changes: release.Flags{Major: true, Contracts: true, UserFacing: true}, Blobs: map[string][]release.Blob{}}
	for _, g := range p.Gates {
		for _, c := range g.Checks {
			if c.Kind == release.KindEvidence {
				m.Blobs[c.Name] = []release.Blob{{Name: c.Name + ".json", SHA256: fmt.Sprintf("%064x", len(m.Blobs)), Size: 1}}
			}
		}
	}
	if edit != nil {
		edit(&m, p)
	}
	return release.Input{Manifest: m, PolicyName: release.DefaultPolicyName}, p
}

// measureBriefly makes every resource-usage probe of p measure the second after the deploy.
func measureBriefly(p *release.Policy) {
	for _, g := range p.Gates {
		for _, c := range g.Checks {
			if _, ok := c.Params["windowSeconds"]; ok {
				c.Params["windowSeconds"] = "1"
			}
		}
	}
}

// fakeActivities stand in for the real ones: the real ones have their own integration tests.
type fakeActivities struct {
	// verdict decides each analysis interval (1-based, per analysis) from its step; nil passes.
	verdict func(vars analysis.Vars, interval int) analysis.Outcome
	calls   int
	mu      sync.Mutex
	traffic []release.TrafficRequest
	notices []release.Notice
	outcome map[string]release.Outcome // check name → outcome (default pass)
	// requests are the check requests the workflow made, in order
	requests []release.CheckRequest
	// signoffs are the Slack signoff messages posted or updated, in order (signoffmsg_test.go)
	signoffs []release.SignoffMessage
	// onNotify, when set, runs inside the Notify activity before it returns
	onNotify func(release.Notice)
	// trafficErr, when set, answers each traffic request first: an error is the backend
	// failing, and the change is not applied (wayback_test.go)
	trafficErr func(release.TrafficRequest) error
	// joined are the releases that joined their line (promotion_test.go)
	joined []release.JoinLineRequest
	// left are the releases that told their line they ended
	left []string
}

func (f *fakeActivities) EvaluateCheck(_ context.Context, req release.CheckRequest) (release.CheckResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.outcome[req.Check.Name]
	if out == "" {
		out = release.OutcomePass
	}
	res := release.CheckResult{Outcome: out, Detail: req.Check.Name + " " + string(out)}
	for _, b := range req.Blobs {
		res.Evidence = append(res.Evidence, release.EvidenceDigest{Location: b.Name, SHA256: fmt.Sprintf("%064d", req.Attempt)})
	}
	f.requests = append(f.requests, req)
	return res, nil
}

// AnalyzeInterval judges with the real run logic on verdicts the test chooses.
func (f *fakeActivities) AnalyzeInterval(_ context.Context, req release.AnalyzeRequest) (release.AnalyzeResult, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	run := req.Run
	out := analysis.Pass
	if f.verdict != nil {
		out = f.verdict(req.Vars, run.Intervals+1)
	}
	var res analysis.IntervalResult
	for _, m := range req.Spec.Metrics {
		res.Verdicts = append(res.Verdicts, analysis.Verdict{Metric: m.Name, Outcome: out, Canary: []float64{0.5}, Rule: "test rule " + string(out)})
	}
	dec := run.Record(res)
	return release.AnalyzeResult{Run: run, Decision: dec, Summary: []string{"error-rate " + string(out)}}, nil
}

func (f *fakeActivities) SetTraffic(_ context.Context, req release.TrafficRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.trafficErr != nil {
		if err := f.trafficErr(req); err != nil {
			return err
		}
	}
	f.traffic = append(f.traffic, req)
	return nil
}

func (f *fakeActivities) Notify(_ context.Context, n release.Notice) error {
	f.mu.Lock()
	f.notices = append(f.notices, n)
	hook := f.onNotify
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return nil
}

func (f *fakeActivities) setOutcome(check string, outcome release.Outcome) {
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
	t   testing.TB
	env *testsuite.TestWorkflowEnvironment
	act *fakeActivities
	in  release.Input
	// pol is the policy the test worker hands the release (LoadPolicy)
	pol *release.Policy
	// starter signs the start (default rm-ada); unsigned starts none
	starter  string
	unsigned bool
	// run0 runs after the start is signed, before the release starts (to tamper with it)
	run0 func()
	// line is the latest stop-the-line command the test line hands a joining release
	line *release.LineCommand
}

func newHarness(t testing.TB, edit func(*release.Manifest, *release.Policy)) *harness {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	// the environment's default bound is 3 s of wall clock: a starved machine took longer
	// (TestContractsRollbackRevertsProxy at load 20); it is a bound on hangs, not a speed test
	env.SetTestTimeout(2 * time.Minute)
	// the deadlock detector's default is 1 s of wall clock for one workflow task: at load 36
	// it failed TestCanaryAnalysis48HoursToPromotion ("didn't yield for over 1s") though the
	// task was only starved; like the timeout above, a bound on hangs
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	act := &fakeActivities{outcome: map[string]release.Outcome{}}
	env.RegisterWorkflowWithOptions(ReleaseWorkflow, RegisterOptions())
	env.RegisterActivityWithOptions(act.EvaluateCheck, activity.RegisterOptions{Name: release.ActivityEvaluateCheck})
	env.RegisterActivityWithOptions(act.SetTraffic, activity.RegisterOptions{Name: release.ActivitySetTraffic})
	env.RegisterActivityWithOptions(act.Notify, activity.RegisterOptions{Name: release.ActivityNotify})
	env.RegisterActivityWithOptions(act.SignoffMessage, activity.RegisterOptions{Name: release.ActivitySignoffMessage})
	env.RegisterWorkflowWithOptions(AnalysisWorkflow, AnalysisRegisterOptions())
	env.RegisterActivityWithOptions(act.AnalyzeInterval, activity.RegisterOptions{Name: release.ActivityAnalyze})
	env.RegisterActivityWithOptions(act.LaneEnter, activity.RegisterOptions{Name: release.ActivityLaneEnter})
	env.RegisterActivityWithOptions(act.LaneLeave, activity.RegisterOptions{Name: release.ActivityLaneLeave})
	h := &harness{t: t, env: env, act: act, starter: "rm-ada"}
	h.in, h.pol = testInput(t, edit)
	env.RegisterActivityWithOptions(func(_ context.Context, req release.PolicyRequest) (release.PolicyResult, error) {
		if req.Name != release.DefaultPolicyName {
			return release.PolicyResult{}, temporal.NewNonRetryableApplicationError("no policy "+req.Name, "PolicyRefused", nil)
		}
		return release.PolicyResult{Name: req.Name, Policy: *h.pol, Digest: h.pol.Digest()}, nil
	}, activity.RegisterOptions{Name: release.ActivityLoadPolicy})
	env.RegisterActivityWithOptions(func(_ context.Context, req release.JoinLineRequest) (release.LineState, error) {
		h.act.mu.Lock()
		defer h.act.mu.Unlock()
		h.act.joined = append(h.act.joined, req)
		return release.LineState{Policy: req.Policy, Latest: h.line}, nil
	}, activity.RegisterOptions{Name: release.ActivityJoinLine})
	env.OnSignalExternalWorkflow(mock.Anything, release.LineID(release.DefaultPolicyName), "", release.SignalLeave, mock.Anything).Run(func(args mock.Arguments) {
		h.act.mu.Lock()
		defer h.act.mu.Unlock()
		h.act.left = append(h.act.left, args.String(4))
	}).Return(nil).Maybe()
	return h
}

// testRunID is the run id the test environment gives every workflow.
const testRunID = "default-test-run-id"

// sign signs cmd for action as the test people do: a Slack command with the bridge key, any
// other with the actor's own key (a key of the ring, whether or not the policy lists it).
func (h *harness) sign(action string, cmd *release.Command, b release.Binding) {
	id := cmd.Actor
	if cmd.Channel == release.ChannelSlack {
		id = people.BridgeID
	} else if m, ok := h.pol.Resolve(cmd.Actor); ok {
		id = m.ID
	}
	require.NoError(h.t, control.Sign(testKeys.MustSigner(id), action, cmd, b, h.env.Now()))
}

func (h *harness) status() release.Status {
	v, err := h.env.QueryWorkflow(release.QueryStatus)
	require.NoError(h.t, err)
	var st release.Status
	require.NoError(h.t, v.Get(&st))
	return st
}

// signal sends a signed command as a signal (command() as the decide update).
func (h *harness) signal(name string, cmd release.Command) {
	h.env.SignalWorkflow(name, h.signed(name, cmd))
}

// signed is cmd signed for this release's run, on the CLI channel unless it names another.
func (h *harness) signed(name string, cmd release.Command) release.Command {
	if cmd.Channel == "" {
		cmd.Channel = release.ChannelCLI
	}
	h.sign(name, &cmd, release.Binding{Release: h.in.Manifest.ID(), Run: testRunID})
	return cmd
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
			_, pc := h.pol.FindCheck(c.Name)
			n := len(c.Approvals)
			for _, m := range h.pol.Groups[pc.Group].Members {
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
	h.execute()
	require.NoError(h.t, h.env.GetWorkflowError())
	var res release.Result
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

// execute signs the start (unless unsigned) and runs the release to its end.
func (h *harness) execute() {
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: h.in.Manifest.ID()})
	if !h.unsigned && h.in.Start == nil {
		start := release.Command{Actor: h.starter, Channel: release.ChannelCLI, Policy: h.in.PolicyName, Manifest: release.ManifestDigest(&h.in.Manifest)}
		h.sign(release.ActionStart, &start, release.Binding{Release: h.in.Manifest.ID()})
		h.in.Start = &start
	}
	if h.run0 != nil {
		h.run0()
	}
	h.env.ExecuteWorkflow(ReleaseWorkflow, h.in)
	require.True(h.t, h.env.IsWorkflowCompleted())
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
	stages := map[string]release.Stage{}
	for _, win := range mid.Windows {
		stages[win.Name] = win.Stage
	}
	require.Equal(t, map[string]release.Stage{release.WindowTestnetSoak: release.StageTestnet, release.WindowCanaryWatch: release.StageCanary,
		"production-5": release.StageProduction, "production-25": release.StageProduction, "production-100": release.StageProduction}, stages,
		"every window records its stage when the release is created")

	// idempotency keys are unique per step
	keys := map[string]bool{}
	for _, r := range h.act.traffic {
		require.False(t, keys[r.IdempotencyKey], "duplicate key %s", r.IdempotencyKey)
		keys[r.IdempotencyKey] = true
	}
}

func TestSignoffRefusalsAreAudited(t *testing.T) {
	h := newHarness(t, nil)
	refuse := func(at time.Duration, name string, cmd release.Command) {
		h.at(at, func() { h.signal(name, cmd) })
	}
	// while in development: G1 is open, G2 is not
	refuse(time.Second, release.SignalApprove, release.Command{Actor: "mallory", Check: "peer-review"})
	refuse(2*time.Second, release.SignalApprove, release.Command{Actor: "alice", Check: "peer-review"})
	refuse(3*time.Second, release.SignalApprove, release.Command{Actor: "alice@example.com", Check: "peer-review"}) // an alias of alice's, signed with her key
	refuse(4*time.Second, release.SignalApprove, release.Command{Actor: "bob", Check: "peer-review"})
	refuse(5*time.Second, release.SignalApprove, release.Command{Actor: "U0BOB0005", Channel: release.ChannelSlack, Check: "peer-review"})
	refuse(6*time.Second, release.SignalApprove, release.Command{Actor: "bob", Check: "no-such-check"})
	refuse(7*time.Second, release.SignalApprove, release.Command{Actor: "erin", Check: "security-checklist"})
	refuse(8*time.Second, release.SignalApprove, release.Command{Actor: "bob", Check: "unit-coverage"})
	refuse(9*time.Second, release.SignalReject, release.Command{Actor: "carol", Check: "peer-review"})
	refuse(10*time.Second, release.SignalApprove, release.Command{Actor: "ken", Check: "legal-review"})
	refuse(11*time.Second, release.SignalAbort, release.Command{Actor: "bob", Reason: "not mine to abort"})
	refuse(12*time.Second, release.SignalApprove, release.Command{Actor: "carol", Check: "peer-review", Fingerprint: "stale"})
	var st release.Status
	h.at(time.Minute, func() {
		st = h.status()
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "end of test"})
	})
	res := h.run()
	require.Equal(t, release.StateAborted, res.State)

	cases := []struct{ action, target, reason string }{
		{"approve", "peer-review", `"mallory" is not a member of the release's policy`},
		{"approve", "peer-review", "alice is the author"},
		{"approve", "peer-review", "bob already approved"},
		{"approve", "no-such-check", "unknown check"},
		{"approve", "security-checklist", "wrong stage"},
		{"approve", "unit-coverage", "automated evidence check"},
		{"reject", "peer-review", "needs a reason"},
		{"approve", "legal-review", "does not apply"},
		{"abort", "", "bob is not a release manager"},
		{"approve", "peer-review", "evidence changed"},
	}
	for _, c := range cases {
		require.True(t, h.auditHas(st, c.action, c.target, false, c.reason), "no refused %s %s %q in audit: %+v", c.action, c.target, c.reason, st.Audit)
	}
	// bob's first approval, by id, was accepted, and only once
	require.True(t, h.auditHas(st, "approve", "peer-review", true, ""))
	g1 := st.Gates[0]
	require.Equal(t, "peer-review", g1.Checks[5].Name)
	require.Len(t, g1.Checks[5].Approvals, 1)
	require.Equal(t, "bob", g1.Checks[5].Approvals[0].Actor)
	require.Equal(t, release.StageDevelopment, st.Stage)
}

// A rejection stands until the person who made it, or a release manager who is not the
// author, clears it with a reason: a recheck (which the author may ask for) only re-runs the
// automated checks, and an approval on file never passes a check over a standing rejection.
func TestRejectionStandsUntilClearedByRejecterOrReleaseManager(t *testing.T) {
	h := newHarness(t, nil)
	h.at(time.Second, func() {
		h.signal(release.SignalApprove, release.Command{Actor: "carol", Check: "peer-review"})
		h.signal(release.SignalReject, release.Command{Actor: "bob", Check: "peer-review", Reason: "missing tests"})
	})
	var afterRecheck, blocked release.Status
	h.at(time.Hour, func() {
		h.signal(release.SignalRecheck, release.Command{Actor: "alice", Gate: "G1"})
		h.signal(release.SignalClearRejection, release.Command{Actor: "alice", Check: "peer-review", Reason: "I fixed it"})
		h.signal(release.SignalClearRejection, release.Command{Actor: "carol", Check: "peer-review", Reason: "looks fine to me"})
		h.signal(release.SignalApprove, release.Command{Actor: "dan", Check: "peer-review"}) // not a reviewer
		h.signal(release.SignalClearRejection, release.Command{Actor: "bob", Check: "peer-review"})
	})
	h.at(2*time.Hour, func() { afterRecheck = h.status() })
	h.at(3*time.Hour, func() {
		blocked = h.status()
		h.signal(release.SignalClearRejection, release.Command{Actor: "bob", Check: "peer-review", Reason: "tests added in build 7"})
	})
	h.approveEvery(4*time.Hour, 30*time.Hour)
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	require.Equal(t, release.StateBlocked, afterRecheck.State, "a recheck never clears a rejection")
	require.Equal(t, release.CheckRejected, afterRecheck.Gates[0].Checks[5].State)
	require.Equal(t, "bob", afterRecheck.Gates[0].Checks[5].RejectedBy)
	require.Equal(t, release.StageDevelopment, blocked.Stage)
	require.Contains(t, blocked.Gates[0].Checks[5].Detail, "missing tests")
	st := h.status()
	for _, c := range []struct{ action, reason string }{
		{"clear-rejection", "alice is the author of the release and may not clear a rejection"},
		{"clear-rejection", "only bob, who rejected peer-review, or a release manager may clear"},
		{"clear-rejection", "needs a reason"},
	} {
		require.True(t, h.auditHas(st, c.action, "peer-review", false, c.reason), "no refused %s %q", c.action, c.reason)
	}
	require.True(t, h.auditHas(st, "recheck", "G1", true, "rechecking G1"))
	require.True(t, h.auditHas(st, "clear-rejection", "peer-review", true, "tests added in build 7"))
	require.Equal(t, 2, len(st.Gates[0].Checks[5].Approvals))
}

// With an approval on file, a rejection still blocks: the check does not pass over it, and
// no further approval is taken until it is cleared.
func TestApprovalOnFileNeverPassesOverARejection(t *testing.T) {
	var st release.Status
	h := newHarness(t, nil)
	h.at(time.Second, func() {
		h.signal(release.SignalApprove, release.Command{Actor: "carol", Check: "peer-review"})
		h.signal(release.SignalReject, release.Command{Actor: "bob", Check: "peer-review", Reason: "missing tests"})
	})
	h.at(time.Minute, func() {
		h.signal(release.SignalApprove, release.Command{Actor: "carol", Check: "peer-review"})
		h.signal(release.SignalRecheck, release.Command{Actor: "rm-ada"})
	})
	h.at(time.Hour, func() {
		st = h.status()
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "end of test"})
	})
	require.Equal(t, release.StateAborted, h.run().State)
	require.Equal(t, release.CheckRejected, st.Gates[0].Checks[5].State)
	require.Equal(t, release.GateBlocked, st.Gates[0].State)
	require.Len(t, st.Gates[0].Checks[5].Approvals, 1)
}

func TestFailedCheckBlocksAndRecheckReadsNewEvidence(t *testing.T) {
	h := newHarness(t, nil)
	h.act.setOutcome("unit-coverage", release.OutcomeFail)
	h.approveEvery(time.Minute, 10*time.Minute)
	var blocked release.Status
	h.at(time.Hour, func() {
		blocked = h.status()
		h.act.setOutcome("unit-coverage", release.OutcomePass)
		h.signal(release.SignalRecheck, release.Command{Actor: "alice", Gate: "G1"}) // the author may ask for a recheck
	})
	h.approveEvery(2*time.Hour, 10*time.Hour)
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	require.Equal(t, release.StateBlocked, blocked.State)
	require.Equal(t, release.CheckFailed, blocked.Gates[0].Checks[0].State)
	require.Contains(t, blocked.WaitingFor[0], "gate G1 Code quality: blocked")
}

// A recheck may bring new evidence (blobs the CLI uploaded): the check then reads it, and the
// audit says so. Evidence for a check of a gate the recheck does not run, for a signoff, or
// with an invalid blob is refused, and nothing changes.
func TestRecheckWithNewEvidence(t *testing.T) {
	h := newHarness(t, nil)
	h.act.setOutcome("unit-coverage", release.OutcomeFail)
	fresh := release.Blob{Name: "coverage-rerun.out", SHA256: strings.Repeat("ab", 32), Size: 42}
	h.approveEvery(time.Minute, 10*time.Minute)
	h.at(time.Hour, func() {
		for _, ev := range []map[string][]release.Blob{
			{"regression-suite": {fresh}},                                    // G3: not blocked, not rechecked
			{"peer-review": {fresh}},                                         // a signoff reads no evidence
			{"unit-coverage": {{Name: "x", SHA256: "/etc/shadow", Size: 1}}}, // not a digest
			{"no-such-check": {fresh}},
		} {
			h.signal(release.SignalRecheck, release.Command{Actor: "rm-bo", Gate: "G1", Evidence: ev})
		}
		h.act.setOutcome("unit-coverage", release.OutcomePass)
		h.signal(release.SignalRecheck, release.Command{Actor: "alice", Gate: "G1", Evidence: map[string][]release.Blob{"unit-coverage": {fresh}}})
	})
	h.approveEvery(2*time.Hour, 10*time.Hour)
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State, res.Reason)
	st := h.status()
	for _, want := range []string{"gate G3, which this recheck does not run", "signoff check: it reads no evidence", "sha256 must be 64", `no check "no-such-check"`} {
		require.True(t, h.auditHas(st, "recheck", "G1", false, want), want)
	}
	var last release.CheckRequest
	for _, r := range h.act.requests {
		if r.Check.Name == "unit-coverage" {
			last = r
		}
	}
	require.Equal(t, []release.Blob{fresh}, last.Blobs, "the recheck reads the new evidence")
	require.Equal(t, 2, last.Attempt, "only the accepted recheck ran the checks again")
	require.True(t, h.auditHas(st, "recheck", "G1", true, "with new evidence for unit-coverage"))
	require.Equal(t, "coverage-rerun.out", st.Gates[0].Checks[0].Evidence[0].Location)
}

// A recheck that arrives while the "gate blocked" notice is still going out is not lost (it
// was: the gate then waited for a second recheck, and TestSlackSignoffsEndToEnd failed on a
// loaded machine whenever the notice was slower than the recheck).
func TestRecheckDuringTheBlockedNoticeCounts(t *testing.T) {
	h := newHarness(t, nil)
	h.act.setOutcome("unit-coverage", release.OutcomeFail)
	var once sync.Once
	h.act.onNotify = func(n release.Notice) {
		if n.Kind == release.NoticeGate && strings.Contains(n.Text, "G1 Code quality blocked") {
			once.Do(func() {
				h.act.setOutcome("unit-coverage", release.OutcomePass)
				h.signal(release.SignalRecheck, release.Command{Actor: "alice", Gate: "G1"})
			})
		}
	}
	h.approveEvery(time.Minute, 30*time.Minute)
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State, res.Reason)
	require.True(t, h.auditHas(h.status(), "recheck", "G1", true, "rechecking G1"))
}

func TestPauseHoldsPromotionButNotTheClock(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	h.at(24*time.Hour, func() { h.signal(release.SignalPause, release.Command{Actor: "oc-cy", Reason: "incident elsewhere"}) })
	var paused release.Status
	h.at(16*24*time.Hour, func() { paused = h.status() })
	h.at(17*24*time.Hour, func() { h.signal(release.SignalResume, release.Command{Actor: "rm-bo"}) })
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	require.Equal(t, release.StatePaused, paused.State)
	require.Equal(t, release.StageTestnet, paused.Stage)
	require.Equal(t, release.WindowDone, paused.Windows[0].State, "the soak's clock runs while paused")
	// resumed at day 17, then 1 d canary + 3 d bakes
	require.InDelta(t, float64(21*24*time.Hour), float64(h.env.Now().Sub(start)), float64(time.Hour))
}

func TestAbortInCanaryReturnsTraffic(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	h.at(14*24*time.Hour+time.Hour, func() {
		require.Equal(t, release.StageCanary, h.status().Stage)
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "customer complaints"})
	})
	res := h.run()
	require.Equal(t, release.StateAborted, res.State)
	require.Equal(t, release.StageCanary, res.Stage)
	require.Equal(t, []string{"staging:100", "testnet:100", "production:5", "production:0"}, h.act.percents())
	last := h.act.traffic[len(h.act.traffic)-1]
	require.Equal(t, "1.9.0", last.PreviousVersion)
	st := h.status()
	require.Equal(t, 0.0, st.TrafficPercent)
	require.Equal(t, "1.9.0", st.RollbackPlan.TargetVersion)
}

func TestRollbackFromEachProductionStep(t *testing.T) {
	steps := []float64{5, 25, 100}
	for i, pct := range steps {
		t.Run(fmt.Sprintf("step-%g", pct), func(t *testing.T) {
			h := newHarness(t, nil)
			h.approveEvery(time.Minute, 30*time.Minute)
			// soak 14 d, canary 1 d, then step i has been live for 12 h
			h.at(time.Duration(15*24+24*i+12)*time.Hour, func() {
				st := h.status()
				require.Equal(t, release.StageProduction, st.Stage)
				require.Equal(t, pct, st.TrafficPercent)
				h.signal(release.SignalRollback, release.Command{Actor: "oc-cy", Reason: "p99 regression"})
			})
			res := h.run()
			require.Equal(t, release.StateRolledBack, res.State)
			p := h.act.percents()
			require.Equal(t, fmt.Sprintf("production:%g", pct), p[len(p)-2])
			require.Equal(t, "production:0", p[len(p)-1])
			st := h.status()
			require.True(t, h.auditHas(st, "rollback", "", true, "p99 regression"))
			require.Equal(t, release.StateRolledBack, st.State)
		})
	}
}

func TestRollbackRefusedBeforeTrafficMoves(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	h.at(2*24*time.Hour, func() {
		h.signal(release.SignalRollback, release.Command{Actor: "rm-ada", Reason: "oops"})
	})
	h.at(3*24*time.Hour, func() { h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "stop"}) })
	res := h.run()
	require.Equal(t, release.StateAborted, res.State)
	require.Equal(t, release.StageTestnet, res.Stage)
	require.True(t, h.auditHas(h.status(), "rollback", "", false, "nothing to roll back in testnet"))
	require.NotContains(t, h.act.percents(), "production:0")
}

func TestCriticalIssueDuringSoakBlocksPromotion(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	h.at(3*24*time.Hour, func() {
		h.signal(release.SignalReportIssue, release.Command{Actor: "grace", Severity: "critical", Title: "reentrancy in withdraw"})
		h.signal(release.SignalReportIssue, release.Command{Actor: "heidi", Severity: "low", Title: "typo"})
	})
	var held release.Status
	h.at(15*24*time.Hour, func() { held = h.status() })
	h.at(16*24*time.Hour, func() {
		h.signal(release.SignalResolveIssue, release.Command{Actor: "bob", Issue: 1}) // not a release manager
		h.signal(release.SignalResolveIssue, release.Command{Actor: "rm-bo", Issue: 1, Reason: "fixed in 2.0.0 build 7"})
	})
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	require.Equal(t, release.StageTestnet, held.Stage)
	require.Equal(t, release.WindowDone, held.Windows[0].State)
	require.Equal(t, 14*24*time.Hour, held.Windows[0].EndsAt.Sub(held.Windows[0].StartedAt), "an issue never extends the soak silently")
	require.Contains(t, held.WaitingFor, "open critical issue #1: reentrancy in withdraw")
	require.NotContains(t, strings.Join(held.WaitingFor, ";"), "typo")
	require.InDelta(t, float64(20*24*time.Hour), float64(h.env.Now().Sub(start)), float64(time.Hour))
	st := h.status()
	require.True(t, h.auditHas(st, "resolve-issue", "#1", false, "bob is not a release manager"))
	require.Equal(t, "rm-bo", st.Issues[0].ResolvedBy)
}

func TestBreakGlassNeedsTwoReleaseManagers(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	glass := func(actor, reason string) release.Command {
		return release.Command{Actor: actor, Window: release.WindowTestnetSoak, Reason: reason}
	}
	var one release.Status
	h.at(2*24*time.Hour, func() {
		h.signal(release.SignalBreakGlass, glass("bob", "hotfix"))        // not a release manager
		h.signal(release.SignalBreakGlass, glass("rm-ada", ""))           // no reason
		h.signal(release.SignalBreakGlass, glass("rm-ada", "CVE hotfix")) // 1 of 2
		h.signal(release.SignalBreakGlass, glass("rm-ada", "again"))      // same person
		h.signal(release.SignalBreakGlass, release.Command{Actor: "rm-bo", Window: "no-such", Reason: "x"})
	})
	h.at(2*24*time.Hour+time.Minute, func() { one = h.status() })
	h.at(3*24*time.Hour, func() { h.signal(release.SignalBreakGlass, glass("rm-bo", "CVE-2026-1234 actively exploited")) })
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	require.Equal(t, release.WindowOpen, one.Windows[0].State, "one release manager is not enough")
	st := h.status()
	require.Equal(t, release.WindowBroken, st.Windows[0].State)
	require.InDelta(t, float64(3*24*time.Hour), float64(st.Windows[0].EndsAt.Sub(start)), float64(time.Hour))
	require.InDelta(t, float64(7*24*time.Hour), float64(h.env.Now().Sub(start)), float64(time.Hour))
	for _, reason := range []string{"only release managers", "needs a reason", "already asked", "unknown window"} {
		require.True(t, h.auditHas(st, "break-glass", "", false, reason), reason)
	}
	require.Len(t, st.BreakGlass, 2)
}

func TestProductionPolicyBelowFloorHoldsTheFloor(t *testing.T) {
	h := newHarness(t, func(_ *release.Manifest, p *release.Policy) {
		p.Windows.TestnetSoak = release.Duration(2 * 24 * time.Hour)
		p.Windows.CanaryWatchMin = release.Duration(time.Hour)
	})
	h.approveEvery(time.Minute, 30*time.Minute)
	var soaking release.Status
	h.at(24*time.Hour, func() { soaking = h.status() })
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	require.Equal(t, "14d", soaking.Windows[0].Floor)
	require.Equal(t, 14*24*time.Hour, soaking.Windows[0].EndsAt.Sub(soaking.Windows[0].StartedAt))
	require.GreaterOrEqual(t, h.env.Now().Sub(start), 18*24*time.Hour)
}

func TestDevProfileUsesShortWindows(t *testing.T) {
	h := newHarness(t, func(_ *release.Manifest, p *release.Policy) {
		p.Profile = release.ProfileDev
		p.Windows = release.Windows{TestnetSoak: release.Duration(time.Minute), CanaryWatchMin: release.Duration(time.Minute), CanaryWatchMax: release.Duration(2 * time.Minute)}
		for i := range p.Rollout.Steps {
			p.Rollout.Steps[i].Bake = release.Duration(30 * time.Second)
		}
	})
	h.approveEvery(10*time.Second, 5*time.Minute)
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	require.Less(t, h.env.Now().Sub(start), 10*time.Minute)
}

func TestSignalsAfterTheEndAreRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	st := h.status()
	require.Equal(t, release.StageDone, st.Stage)
	require.Equal(t, 100.0, st.TrafficPercent)
	require.Empty(t, st.WaitingFor)
}

// The decide update applies a command exactly as its signal would and answers with the
// verdict; a name that is no signal is rejected before it reaches history.
func TestDecideUpdateAnswersWithTheVerdict(t *testing.T) {
	h := newHarness(t, nil)
	got := map[string]release.AuditEntry{}
	var rejected error
	update := func(key, signal string, cmd release.Command) {
		h.env.UpdateWorkflow(release.UpdateDecide, key, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { rejected = err },
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				got[key] = v.(release.AuditEntry)
			},
		}, release.Decide{Signal: signal, Command: cmd})
	}
	h.at(time.Second, func() {
		update("bob", release.SignalApprove, h.signed(release.SignalApprove, release.Command{Actor: "U0BOB0005", Channel: release.ChannelSlack, Check: "peer-review"}))
		update("mallory", release.SignalApprove, h.signed(release.SignalApprove, release.Command{Actor: "mallory", Channel: release.ChannelCLI, Check: "peer-review"}))
		update("nothing", "launch-missiles", h.signed("launch-missiles", release.Command{Actor: "rm-ada", Channel: release.ChannelCLI}))
	})
	var st release.Status
	h.at(time.Minute, func() {
		st = h.status()
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "end of test"})
	})
	require.Equal(t, release.StateAborted, h.run().State)
	require.True(t, got["bob"].Accepted, "%+v", got["bob"])
	require.Equal(t, "approve", got["bob"].Action)
	require.False(t, got["mallory"].Accepted)
	require.Contains(t, got["mallory"].Reason, "not a member")
	require.Equal(t, "unproven:mallory", got["mallory"].Actor)
	require.ErrorContains(t, rejected, "unknown signal")
	require.NotContains(t, got, "nothing")
	require.Len(t, st.Gates[0].Checks[5].Approvals, 1)
	require.Equal(t, "bob", st.Gates[0].Checks[5].Approvals[0].Actor)
	for _, e := range st.Audit {
		require.NotEqual(t, "launch-missiles", e.Action)
	}
}

// LaneEnter grants the lane at once, production serving the release's previous version: the
// time-skipped tests run one release at a time (the lane itself is tested on the dev server,
// lane_devserver_test.go).
func (f *fakeActivities) LaneEnter(_ context.Context, req release.LaneRequest) (release.LaneAnswer, error) {
	return release.LaneAnswer{Granted: true, Live: req.Entry.Previous}, nil
}

func (f *fakeActivities) LaneLeave(context.Context, release.LaneRequest) (release.LaneAnswer, error) {
	return release.LaneAnswer{}, nil
}
