package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// Forward traffic steps ride out a backend blip: attempts 2 s apart, doubling up to 30 s, for
// the policy's traffic.stepRetry (default release.DefaultStepRetry; before versionServiceLane
// trafficStepAttempts attempts, about four minutes), before the step counts as failed (and
// the release goes back).
const (
	trafficStepAttempts = 12
	trafficRetryFirst   = 2 * time.Second
	trafficRetryMax     = 30 * time.Second
	// trafficHeartbeatTimeout: the traffic activity heartbeats while it waits on the backend,
	// so a worker that dies mid-call is noticed in seconds and the call retried on another.
	trafficHeartbeatTimeout = 10 * time.Second
)

// The way back never gives up. One round is rollbackRoundAttempts attempts, a second apart and
// doubling; after a failed round the release says so (rollback_failed) and waits before the
// next, rollbackWaitFirst at first, doubling up to rollbackWaitMax. A round costs about 11
// history events (an activity, a timer, their workflow tasks), some 1,100 a day at the
// longest wait: a backend down for a week stays under 10,000, and Temporal's hard limit
// (51,200) is some 45 days away, long after the page (ShipgateRollbackFailing) was answered.
// A rollback or abort command starts the next round at once.
const (
	rollbackRoundAttempts = 5
	rollbackWaitFirst     = 30 * time.Second
	rollbackWaitMax       = 15 * time.Minute
)

// trafficOptions are the activity options of one traffic change: a forward step's bounded
// retries, or the way back's round.
func (w *rel) trafficOptions(ctx workflow.Context, summary string, back bool) workflow.Context {
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    trafficHeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: trafficStepAttempts, InitialInterval: trafficRetryFirst,
			BackoffCoefficient: 2, MaximumInterval: trafficRetryMax},
		Summary: summary,
	}
	switch {
	case back:
		opts.RetryPolicy = &temporal.RetryPolicy{MaximumAttempts: rollbackRoundAttempts, InitialInterval: time.Second,
			BackoffCoefficient: 2, MaximumInterval: trafficRetryMax}
	case w.laneOn:
		// the policy's budget (traffic.stepRetry) bounds the step; the attempt count only
		// keeps up with it (one per trafficRetryMax, and the first, faster ones)
		budget := w.pol.StepRetry()
		opts.ScheduleToCloseTimeout = budget
		opts.RetryPolicy.MaximumAttempts = int32(budget/trafficRetryMax) + 6
	}
	return workflow.WithActivityOptions(ctx, opts)
}

// trafficMoved reports whether real users' traffic may be on the new version: the rollback
// target is recorded just before the first canary traffic moves.
func (w *rel) trafficMoved() bool {
	return w.st.Stage.TrafficMoves() && w.st.RollbackPlan != nil
}

// wayBack is the way back, the same for every way out (rollback, abort, a failure, a
// cancellation): once traffic has moved, all production traffic goes back to the previous
// version, then every proxy the release switched is pointed back at its previous
// implementation. Its caller passes a disconnected context, so it runs even while the
// workflow is being canceled. why says which way out, for the notice.
//
// It returns only when the backend confirmed the traffic back: meanwhile the release stays
// open in state rollback_failed, its reason saying why and at which percent the backend last
// confirmed the split, and rollback or abort retry at once (returnTraffic). Releases from
// before versionWayOut gave up on a non-retryable error: that error is returned.
func (w *rel) wayBack(ctx workflow.Context, why string) (moved bool, err error) {
	w.goingBack = true
	defer func() { w.goingBack, w.backStep = false, "" }()
	if w.trafficMoved() {
		if err := w.returnTraffic(ctx, why); err != nil {
			return true, err
		}
		moved = true
	}
	if len(w.ct.switched) > 0 || w.ct.underWay != nil {
		w.revertProxies(ctx)
	}
	return moved, nil
}

// returnTraffic sets the new version's share of production to 0 %, round after round until
// the backend accepts.
func (w *rel) returnTraffic(ctx workflow.Context, why string) error {
	var target string
	step := func(round int) error {
		// the target is read each round: a person may point production elsewhere meanwhile
		target = w.st.RollbackPlan.TargetVersion
		req := w.trafficRequest(w.prodEnv(), 0, "rollback")
		req.PreviousVersion, req.Rollback = target, w.wayOut
		if target != w.st.Previous {
			req.IdempotencyKey += "-to-" + target
		}
		w.backStep = fmt.Sprintf("the way back: all of %s's traffic to %s", w.prodEnv(), target)
		actx := w.trafficOptions(ctx, fmt.Sprintf("rollback: all traffic back to %s (round %d)", target, round), true)
		if !w.wayOut {
			actx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
				StartToCloseTimeout: time.Minute,
				RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 0, InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
				Summary:             fmt.Sprintf("rollback: all traffic back to %s", target),
			})
		}
		return workflow.ExecuteActivity(actx, release.ActivitySetTraffic, req).Get(ctx, nil)
	}
	if err := w.persist(ctx, func() string { return "rolling back to " + w.st.RollbackPlan.TargetVersion }, step); err != nil {
		return fmt.Errorf("rollback to %s failed: %w", target, err)
	}
	w.afterTraffic(ctx, w.prodEnv(), 0)
	w.notify(ctx, release.NoticeRollback, fmt.Sprintf("%s %s: traffic back to %s (%s)", w.st.Service, w.st.Version, target, why))
	return nil
}

// persist runs one step of the way back, round after round, until it succeeds. After each
// failed round the release says so (rollbackFailed) and waits, rollbackWaitFirst doubling up
// to rollbackWaitMax, or until a rollback or abort command asks for the next round now.
// Releases from before versionWayOut had one round: its error is returned.
func (w *rel) persist(ctx workflow.Context, what func() string, step func(round int) error) error {
	wait := rollbackWaitFirst
	for round := 1; ; round++ {
		err := step(round)
		if err == nil || !w.wayOut {
			return err
		}
		seen := w.retryBack
		w.rollbackFailed(ctx, what(), round, wait, err)
		retried, _ := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
			Timeout:      wait,
			TimerOptions: workflow.TimerOptions{Summary: fmt.Sprintf("%s: round %d failed, next in %s", what(), round, wait)},
		}, func() bool { return w.retryBack != seen })
		wait = min(2*wait, rollbackWaitMax)
		if retried {
			wait = rollbackWaitFirst
		}
	}
}

// rollbackFailed makes a failing way back loud: state rollback_failed (a search attribute an
// alert can watch), the reason in words with the percent the backend last confirmed, the
// counter shipgate_rollback_failures_total, the audit log, and a notice on the first round.
func (w *rel) rollbackFailed(ctx workflow.Context, what string, round int, wait time.Duration, err error) {
	reason := fmt.Sprintf("%s is failing (round %d, next in %s; rollback or abort retries now): %s; the backend last confirmed %g %% of %s on %s",
		what, round, wait, cause(err), w.st.TrafficPercent, w.prodEnv(), w.st.Version)
	workflow.GetMetricsHandler(ctx).Counter("shipgate_rollback_failures_total").Inc(1)
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "rollback-failed", Target: what, Reason: reason})
	if round == 1 {
		w.notify(ctx, release.NoticeRollback, fmt.Sprintf("%s %s: ROLLBACK FAILING: %s", w.st.Service, w.st.Version, reason))
	}
	w.setState(ctx, release.StateRollbackFailed, reason)
}

// cause is an activity error's own message, without the SDK's wrapping.
func cause(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Error()
	}
	var to *temporal.TimeoutError
	if errors.As(err, &to) {
		return to.Error()
	}
	return err.Error()
}

// disconnected is ctx detached from the workflow's cancellation: the way out runs to its end.
func disconnected(ctx workflow.Context) workflow.Context {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	return dctx
}

// failWayBack ends a release that failed (an activity's retries exhausted, a refusal, an
// error in the contracts steps): the way back first, then the release closes saying why.
// Once traffic has moved the release ends rolled_back, "failed: <error>; rolled back to …".
func (w *rel) failWayBack(ctx workflow.Context, ferr error) (release.Result, error) {
	if ctx.Err() != nil {
		return w.canceled(ctx)
	}
	wctx := ctx
	ctx = disconnected(ctx)
	w.stop = &release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "fail", Accepted: true,
		Reason: ferr.Error(), At: workflow.Now(ctx)}
	w.audit(ctx, *w.stop)
	why := fmt.Sprintf("failed in %s: %v", w.st.Stage, ferr)
	if !w.trafficMoved() {
		w.notify(ctx, release.NoticeAbort, fmt.Sprintf("%s %s %s", w.st.Service, w.st.Version, why))
	}
	switched := len(w.ct.switched) > 0 || (w.ct.underWay != nil && w.ct.underWay.proxy != nil)
	moved, _ := w.wayBack(ctx, why) // returns only when done: versionWayOut
	state, reason := release.StateFailed, "failed: "+ferr.Error()
	switch {
	case moved:
		state, reason = release.StateRolledBack, fmt.Sprintf("%s; rolled back to %s", reason, w.st.Previous)
	case switched:
		reason += "; proxies switched by the release reverted"
	}
	w.setState(ctx, state, reason)
	return release.Result{State: state, Stage: w.st.Stage, Reason: reason}, w.canceledMeanwhile(wctx)
}

// canceledMeanwhile is the workflow's cancellation, when one arrived while the way back ran
// (which it did not cut short): the workflow then ends canceled, as any canceled release
// does, its status saying how the way back ended. Releases before versionWayOut ignored it.
func (w *rel) canceledMeanwhile(wctx workflow.Context) error {
	if !w.wayOut || wctx.Err() == nil {
		return nil
	}
	w.audit(wctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "cancel", Accepted: true,
		Reason: "canceled through Temporal while the way back ran: it completed first"})
	return wctx.Err()
}

// canceled is a cancellation of the workflow (temporal workflow cancel): an abort by no proven
// person, so the same way back, then the workflow ends canceled.
func (w *rel) canceled(ctx workflow.Context) (release.Result, error) {
	dctx := disconnected(ctx)
	w.stop = &release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "cancel", Accepted: true,
		Reason: "canceled: the workflow was canceled through Temporal (no proven actor)", At: workflow.Now(dctx)}
	w.audit(dctx, *w.stop)
	if !w.trafficMoved() {
		w.notify(dctx, release.NoticeAbort, fmt.Sprintf("%s %s canceled in %s", w.st.Service, w.st.Version, w.st.Stage))
	}
	moved, _ := w.wayBack(dctx, "canceled")
	reason := w.stop.Reason
	if moved {
		reason += "; rolled back to " + w.st.Previous
	}
	w.setState(dctx, release.StateAborted, reason)
	return release.Result{State: release.StateAborted, Stage: w.st.Stage, Reason: reason}, ctx.Err()
}

// retryWayBack is rollback's and abort's effect while the way back is under way: the next
// round starts now.
func (w *rel) retryWayBack(cmd release.Command) (string, bool) {
	w.retryBack++
	return "retrying the way back now: " + cmd.Reason, true
}

// pointAt is rollback --to VERSION: the way back points production at a version a person
// names instead of the recorded one (say the previous version is broken too, or a fix is
// live elsewhere). It is accepted only once traffic has moved, as a rollback, and takes
// effect at once when the way back is already under way (the next round uses it).
func (w *rel) pointAt(ctx workflow.Context, name string, cmd release.Command) (string, bool) {
	switch {
	case name != release.SignalRollback:
		return fmt.Sprintf("refused: --to belongs to rollback, not %s", name), false
	case !w.laneOn:
		return "refused: this release predates rollback --to", false
	case !w.trafficMoved():
		return fmt.Sprintf("refused: nothing to point elsewhere in %s (no production traffic has moved); use abort", w.st.Stage), false
	case cmd.To == w.st.Version:
		return fmt.Sprintf("refused: --to %s is the release's own version; the way back leaves it", cmd.To), false
	case !release.ValidVersion(cmd.To):
		return fmt.Sprintf("refused: --to %q is not a version", clip(cmd.To)), false
	}
	w.backTo = cmd.To
	w.st.RollbackPlan.TargetVersion = cmd.To
	w.audit(ctx, release.AuditEntry{Actor: cmd.Actor, Channel: cmd.Channel, Action: "record-rollback-target",
		Target: cmd.To, Accepted: true, Reason: "named by " + cmd.Actor + ": " + cmd.Reason})
	return "", true
}
