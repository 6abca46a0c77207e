package workflows

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/release"
)

// Default policy timeline: 14 d soak, 24 h canary, then production 5, 25 and 100 %, a day each.
const (
	inCanary = 14*24*time.Hour + time.Hour
	atProd5  = 15*24*time.Hour + 12*time.Hour
	atProd25 = 16*24*time.Hour + 12*time.Hour
)

// refused is the backend refusing a change for good (a 4xx), as the traffic activity reports it
// on a forward step.
func refused(msg string) error {
	return temporal.NewNonRetryableApplicationError("traffic webhook answered 400: "+msg, "TrafficRefused", nil)
}

// refusedOnTheWayBack is the same refusal on the way back, where the activity retries it.
func refusedOnTheWayBack(msg string) error {
	return temporal.NewApplicationError("traffic webhook answered 400: "+msg, "TrafficRefused")
}

func stepKey(req release.TrafficRequest, step string) bool {
	return strings.HasSuffix(req.IdempotencyKey, "/"+step)
}

// A production step the backend refuses ends the release only after the way back: traffic to
// 0 % and the proxy the release switched back on its previous implementation, before the
// workflow closes, with the failure in the reason.
func TestFailedTrafficStepRollsBackTrafficAndProxies(t *testing.T) {
	c := newSimChains(t)
	h1 := c.contractRelease(t, "1.0.0", "CounterV1", demoArtifacts)
	require.Equal(t, release.StateSucceeded, h1.run().State)
	st1 := h1.status()
	proxy, implV1 := contractsOf(st1, "mainnet", release.OpDeployProxy)[0].Address, contractsOf(st1, "mainnet", release.OpDeploy)[0].Address

	h := c.contractRelease(t, "2.0.0", "CounterV2", demoArtifacts)
	h.act.trafficErr = func(req release.TrafficRequest) error {
		if stepKey(req, "production-25") {
			return refused("split rejected")
		}
		return nil
	}
	res := h.run()
	require.Equal(t, release.StateRolledBack, res.State)
	require.Equal(t, release.StageProduction, res.Stage)
	require.Contains(t, res.Reason, "failed: production-25: traffic to 25 % in production")
	require.Contains(t, res.Reason, "split rejected")
	require.Contains(t, res.Reason, "rolled back to 1.9.0")

	p := h.act.percents()
	require.Equal(t, []string{"production:5", "production:5", "production:0"}, p[len(p)-3:])
	require.True(t, h.act.traffic[len(h.act.traffic)-1].Rollback)
	require.Equal(t, implV1, c.implementation(t, "sim://mainnet", proxy), "the proxy runs v1 again")
	st := h.status()
	require.Equal(t, release.StateRolledBack, st.State)
	require.Equal(t, 0.0, st.TrafficPercent)
	require.Len(t, contractsOf(st, "mainnet", release.OpRevert), 1)
	require.True(t, h.auditHas(st, "fail", "", true, "split rejected"))
	require.True(t, noticed(h, release.NoticeRollback, "traffic back to 1.9.0 (failed in production"))
}

// A blip of the backend during a forward step is ridden out by the step's retries.
func TestForwardStepRidesOutABackendBlip(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	failures := 0
	h.act.trafficErr = func(req release.TrafficRequest) error {
		if stepKey(req, "production-25") && failures < 6 {
			failures++
			return temporal.NewApplicationError("traffic webhook answered 503: restarting", "")
		}
		return nil
	}
	require.Equal(t, release.StateSucceeded, h.run().State)
	require.Equal(t, 6, failures)
}

// The policy sets how long a forward step rides out a failing backend (traffic.stepRetry):
// a backend down for good costs a short budget a handful of attempts and a long one many,
// and either way the release then goes back.
func TestStepRetryBudgetComesFromThePolicy(t *testing.T) {
	attempts := func(budget time.Duration) int {
		h := newHarness(t, func(_ *release.Manifest, p *release.Policy) { p.Traffic.StepRetry = release.Duration(budget) })
		h.approveEvery(time.Minute, 30*time.Minute)
		n := 0
		h.act.trafficErr = func(req release.TrafficRequest) error {
			if stepKey(req, "production-25") {
				n++
				return temporal.NewApplicationError("traffic webhook answered 503: down", "")
			}
			return nil
		}
		res := h.run()
		require.Equal(t, release.StateRolledBack, res.State)
		require.Contains(t, res.Reason, "failed: production-25")
		return n
	}
	short, long := attempts(time.Minute), attempts(15*time.Minute)
	t.Logf("attempts: %d in 1 min, %d in 15 min", short, long)
	require.LessOrEqual(t, short, 7)
	require.GreaterOrEqual(t, long, 25)
}

// A rollback the backend refuses keeps the release open, in state rollback_failed with the
// reason and the percent last confirmed, retrying, until the backend accepts.
func TestRollbackFailingStaysOpenUntilItSucceeds(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	attempts := 0
	h.act.trafficErr = func(req release.TrafficRequest) error {
		if req.Rollback {
			if attempts++; attempts <= 2*rollbackRoundAttempts+2 {
				return refusedOnTheWayBack("environment locked")
			}
		}
		return nil
	}
	h.at(atProd25, func() { h.signal(release.SignalRollback, release.Command{Actor: "oc-cy", Reason: "p99 regression"}) })
	var failing release.Status
	h.at(atProd25+20*time.Second, func() { failing = h.status() })
	res := h.run()

	require.Equal(t, release.StateRollbackFailed, failing.State)
	require.Contains(t, failing.Reason, "rolling back to 1.9.0 is failing (round 1")
	require.Contains(t, failing.Reason, "environment locked")
	require.Contains(t, failing.Reason, "the backend last confirmed 25 % of production on 2.0.0")
	require.Equal(t, 25.0, failing.TrafficPercent)
	require.Equal(t, []string{"the way back: all of production's traffic to 1.9.0"}, failing.WaitingFor)

	require.Equal(t, release.StateRolledBack, res.State)
	require.Contains(t, res.Reason, "p99 regression")
	require.Equal(t, 2*rollbackRoundAttempts+3, attempts)
	p := h.act.percents()
	require.Equal(t, "production:0", p[len(p)-1])
	st := h.status()
	require.Equal(t, 0.0, st.TrafficPercent)
	n := 0
	for _, e := range st.Audit {
		if e.Action == "rollback-failed" {
			n++
		}
	}
	require.Equal(t, 2, n, "one audit entry per failed round")
	require.True(t, noticed(h, release.NoticeRollback, "ROLLBACK FAILING"))
}

// A rollback that never succeeds never closes the release. What a person can do meanwhile:
// rollback or abort (a release manager or operator, with a reason) starts the next round at
// once; when the backend is fixed, the way back completes and the release closes.
func TestRollbackThatNeverSucceedsKeepsTheReleaseOpen(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	fixed, attempts := false, 0
	h.act.trafficErr = func(req release.TrafficRequest) error {
		if req.Rollback {
			attempts++
			if !fixed {
				return refusedOnTheWayBack("token revoked")
			}
		}
		return nil
	}
	h.at(atProd25, func() { h.signal(release.SignalRollback, release.Command{Actor: "oc-cy", Reason: "p99 regression"}) })
	var stuck release.Status
	before := 0
	h.at(atProd25+3*24*time.Hour, func() {
		stuck = h.status()
		before = attempts
		h.signal(release.SignalAbort, release.Command{Actor: "bob", Reason: "give up"}) // not an operator
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "token rotated, try again"})
	})
	after := 0
	h.at(atProd25+3*24*time.Hour+time.Minute, func() { after = attempts })
	h.at(atProd25+4*24*time.Hour, func() { fixed = true })
	start := h.env.Now()
	res := h.run()

	require.Equal(t, release.StateRollbackFailed, stuck.State, "three days on, the release is still open")
	require.Contains(t, stuck.Reason, "token revoked")
	require.Contains(t, stuck.Reason, "next in 15m0s")
	require.Equal(t, 25.0, stuck.TrafficPercent)
	require.Greater(t, after, before, "abort starts the next round at once")

	require.Equal(t, release.StateRolledBack, res.State)
	closed := h.env.Now().Sub(start)
	require.GreaterOrEqual(t, closed, atProd25+4*24*time.Hour)
	require.Less(t, closed, atProd25+4*24*time.Hour+rollbackWaitMax+time.Minute)
	st := h.status()
	require.True(t, h.auditHas(st, "abort", "", true, "retrying the way back now: token rotated"))
	require.True(t, h.auditHas(st, "abort", "", false, "bob is not a release manager"))
	p := h.act.percents()
	require.Equal(t, "production:0", p[len(p)-1])
}

// Cancelling the workflow during the canary is an abort: traffic back to 0 %, then the
// workflow ends canceled.
func TestCancellationDuringCanaryReturnsTrafficAndEndsCanceled(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	h.at(inCanary, func() {
		require.Equal(t, release.StageCanary, h.status().Stage)
		h.env.CancelWorkflow()
	})
	h.execute()
	err := h.env.GetWorkflowError()
	require.Error(t, err)
	require.True(t, temporal.IsCanceledError(err), "%v", err)
	require.Equal(t, []string{"staging:100", "testnet:100", "production:5", "production:0"}, h.act.percents())
	st := h.status()
	require.Equal(t, release.StateAborted, st.State)
	require.Contains(t, st.Reason, "canceled")
	require.Contains(t, st.Reason, "rolled back to 1.9.0")
	require.Equal(t, 0.0, st.TrafficPercent)
	require.True(t, h.auditHas(st, "cancel", "", true, "canceled"))
}

// A critical issue reported during the canary rolls back at once.
func TestCriticalIssueInCanaryRollsBack(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	h.at(inCanary, func() {
		h.signal(release.SignalReportIssue, release.Command{Actor: "grace", Severity: "critical", Title: "double charges"})
	})
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateRolledBack, res.State)
	require.Equal(t, release.StageCanary, res.Stage)
	require.Contains(t, res.Reason, "open critical issue #1 reported by grace: double charges")
	require.Less(t, h.env.Now().Sub(start), inCanary+time.Minute, "at once")
	p := h.act.percents()
	require.Equal(t, "production:0", p[len(p)-1])
	st := h.status()
	require.True(t, h.auditHas(st, "report-issue", "", true, "rolls the release back now"))
	// the rollback's notice names the issue (the issue's own notice may still be in flight
	// when a release this quick closes)
	require.True(t, noticed(h, release.NoticeRollback, "traffic back to 1.9.0 (rollback by shipgate: open critical issue #1"))
}

// A high issue reported during production holds the next traffic step until it is resolved.
func TestHighIssueInProductionHoldsTheNextStep(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	h.at(atProd5, func() {
		h.signal(release.SignalReportIssue, release.Command{Actor: "heidi", Severity: "high", Title: "slow refunds"})
	})
	var held release.Status
	h.at(17*24*time.Hour, func() { held = h.status() })
	resolved := 17*24*time.Hour + time.Hour
	h.at(resolved, func() {
		h.signal(release.SignalResolveIssue, release.Command{Actor: "rm-bo", Issue: 1, Reason: "fixed in config"})
	})
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	require.Equal(t, release.StageProduction, held.Stage)
	require.Equal(t, 5.0, held.TrafficPercent, "no traffic increase while the issue is open")
	require.Contains(t, held.WaitingFor, "open high issue #1: slow refunds")
	st := h.status()
	for _, d := range st.Deployments {
		if d.Environment == "production" && d.Percent == 25 {
			require.GreaterOrEqual(t, d.At.Sub(start), resolved, "25 % only after the issue was resolved")
		}
	}
	require.True(t, h.auditHas(st, "report-issue", "", true, "holds promotion and every further traffic increase"))
	require.True(t, noticed(h, release.NoticeIssue, "holds promotion"))
}

func noticed(h *harness, kind, part string) bool {
	h.act.mu.Lock()
	defer h.act.mu.Unlock()
	for _, n := range h.act.notices {
		if n.Kind == kind && strings.Contains(n.Text, part) {
			return true
		}
	}
	return false
}

// Cancelled before any traffic moved (gates waiting for people, nothing to return): the
// release ends canceled at once, nothing moved, every coroutine let go.
func TestCancellationWhileGatesWaitEndsCanceled(t *testing.T) {
	h := newHarness(t, nil)
	h.at(time.Hour, func() { h.env.CancelWorkflow() })
	h.execute()
	require.True(t, temporal.IsCanceledError(h.env.GetWorkflowError()), "%v", h.env.GetWorkflowError())
	require.Empty(t, h.act.percents())
	st := h.status()
	require.Equal(t, release.StateAborted, st.State)
	require.Equal(t, release.StageDevelopment, st.Stage)
	require.True(t, noticed(h, release.NoticeAbort, "canceled in development"))
}

// A proxy revert that fails (the deployer key is gone for a while) keeps the release open in
// rollback_failed, saying which proxy, until the revert goes through.
func TestProxyRevertFailingStaysOpenUntilItSucceeds(t *testing.T) {
	c := newSimChains(t)
	h1 := c.contractRelease(t, "1.0.0", "CounterV1", demoArtifacts)
	require.Equal(t, release.StateSucceeded, h1.run().State)
	st1 := h1.status()
	proxy, implV1 := contractsOf(st1, "mainnet", release.OpDeployProxy)[0].Address, contractsOf(st1, "mainnet", release.OpDeploy)[0].Address

	var keyGone atomic.Bool
	key := c.act.Key
	c.act.Key = func(name string) (*chain.Key, error) {
		if keyGone.Load() {
			return nil, fmt.Errorf("key %s: keystore unreadable", name)
		}
		return key(name)
	}
	h := c.contractRelease(t, "2.0.0", "CounterV2", demoArtifacts)
	h.at(atProd5, func() {
		keyGone.Store(true)
		h.signal(release.SignalRollback, release.Command{Actor: "rm-ada", Reason: "wrong balances"})
	})
	var failing release.Status
	h.at(atProd5+time.Hour, func() {
		failing = h.status()
		keyGone.Store(false)
	})
	res := h.run()
	require.Equal(t, release.StateRollbackFailed, failing.State)
	require.Contains(t, failing.Reason, "reverting proxy "+proxy+" of Counter on mainnet to "+implV1+" is failing")
	require.Contains(t, failing.Reason, "keystore unreadable")
	require.Equal(t, 0.0, failing.TrafficPercent, "traffic went back first")
	require.Equal(t, release.StateRolledBack, res.State)
	require.Equal(t, implV1, c.implementation(t, "sim://mainnet", proxy))
}

// A cancellation while a rollback is failing does not cut the way back short: the release
// stays open until traffic is back, then ends canceled.
func TestCancellationDoesNotCutAFailingRollbackShort(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	fixed := false
	h.act.trafficErr = func(req release.TrafficRequest) error {
		if req.Rollback && !fixed {
			return refusedOnTheWayBack("environment locked")
		}
		return nil
	}
	h.at(atProd25, func() { h.signal(release.SignalRollback, release.Command{Actor: "oc-cy", Reason: "p99 regression"}) })
	h.at(atProd25+time.Hour, func() { h.env.CancelWorkflow() })
	var after release.Status
	h.at(atProd25+2*time.Hour, func() {
		after = h.status()
		fixed = true
	})
	start := h.env.Now()
	h.execute()
	require.True(t, temporal.IsCanceledError(h.env.GetWorkflowError()), "%v", h.env.GetWorkflowError())
	require.Equal(t, release.StateRollbackFailed, after.State, "still open an hour after the cancellation")
	require.GreaterOrEqual(t, h.env.Now().Sub(start), atProd25+2*time.Hour)
	st := h.status()
	require.Equal(t, release.StateRolledBack, st.State)
	require.Equal(t, 0.0, st.TrafficPercent)
	require.True(t, h.auditHas(st, "cancel", "", true, "the way back ran"))
}

// A high issue reported during the canary holds promotion to production until resolved.
func TestHighIssueInCanaryHoldsPromotion(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	h.at(inCanary, func() {
		h.signal(release.SignalReportIssue, release.Command{Actor: "heidi", Severity: "high", Title: "slow refunds"})
	})
	var held release.Status
	h.at(16*24*time.Hour, func() { held = h.status() })
	h.at(16*24*time.Hour+time.Hour, func() {
		h.signal(release.SignalResolveIssue, release.Command{Actor: "rm-bo", Issue: 1, Reason: "fixed in config"})
	})
	start := h.env.Now()
	require.Equal(t, release.StateSucceeded, h.run().State)
	require.Equal(t, release.StageCanary, held.Stage, "the canary's watch ended at day 15; the issue held it")
	require.Equal(t, 5.0, held.TrafficPercent)
	require.Contains(t, held.WaitingFor, "open high issue #1: slow refunds")
	require.InDelta(t, float64(19*24*time.Hour+time.Hour), float64(h.env.Now().Sub(start)), float64(time.Hour))
}
