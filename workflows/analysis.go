package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/release"
)

// intervalsPerRun bounds one run of AnalysisWorkflow. An interval costs 11 events (a timer,
// one activity, three workflow tasks; measured on the dev server), whether the interval's
// activity watches alerts (versionAlertWatch) or not, so a run of 400 stays near 4,400 events:
// under half the 10,000 budget, leaving room for notices, however long the watch.
const intervalsPerRun = 400

// historySafetyLimit continues as new early should a run grow past it anyway (many notices).
const historySafetyLimit = 8000

// recentIntervals bounds the compact interval log the child keeps for status.
const recentIntervals = 30

// AnalysisWorkflow measures one canary watch or production bake every interval and decides:
// promote (after Min, when the run is promote-eligible), rollback (a failure budget is spent
// or an SLO alert fired) or pause (inconclusive or error budget spent, or Max reached without
// a passing run: never a silent pass). It continues as new to keep its history small.
func AnalysisWorkflow(ctx workflow.Context, in release.AnalysisInput) (release.AnalysisOutcome, error) {
	watching := workflow.GetVersion(ctx, versionAlertWatch, workflow.DefaultVersion, 1) == 1
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: max(in.Interval, 30*time.Second),
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 2},
	})
	if watching {
		actx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			// the activity lasts the interval; a lost worker shows within the heartbeat timeout
			StartToCloseTimeout: in.Interval + 30*time.Second,
			HeartbeatTimeout:    30 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3, InitialInterval: time.Second},
			Summary:             in.Step + " analysis: alerts watched, metrics measured",
		})
	}
	a := &analysisRun{in: in, id: workflow.GetInfo(ctx).WorkflowExecution.ID}
	if err := workflow.SetQueryHandler(ctx, release.QueryStatus, func() (release.AnalysisOutcome, error) {
		o := a.outcome(analysis.Running, a.in.Run.Decision.Reason)
		o.Recent = a.in.Recent
		return o, nil
	}); err != nil {
		return release.AnalysisOutcome{}, err
	}
	perRun := intervalsPerRun
	if in.IntervalsPerRun > 0 {
		perRun = in.IntervalsPerRun
	}
	for n := 0; ; n++ {
		if n == perRun || (watching && workflow.GetInfo(ctx).GetCurrentHistoryLength() > historySafetyLimit) {
			a.drainNotices(ctx)
			return release.AnalysisOutcome{}, workflow.NewContinueAsNewError(ctx, AnalysisWorkflow, a.in)
		}
		if out, done, err := a.interval(ctx, actx, watching); done || err != nil {
			return out, err
		}
	}
}

// interval measures one interval and folds it into the run: done with the analysis's outcome
// when the watch is over (its Max reached), the interval decided rollback or pause, or the
// run may promote (after Min); err is the workflow's (a canceled timer).
func (a *analysisRun) interval(ctx, actx workflow.Context, watching bool) (out release.AnalysisOutcome, done bool, err error) {
	if workflow.Now(ctx).Sub(a.in.StartedAt) >= a.in.Max {
		a.drainNotices(ctx)
		if a.in.Run.Decision.Action == analysis.PromoteEligible {
			return a.outcome(analysis.Promote, a.in.Run.Decision.Reason), true, nil
		}
		return a.outcome(analysis.Pause, fmt.Sprintf("the watch ended after %s without a passing run: %s", a.in.Max, a.in.Run.Decision.Reason)), true, nil
	}
	timer := workflow.NewTimerWithOptions(ctx, a.in.Interval, workflow.TimerOptions{
		Summary: fmt.Sprintf("%s analysis: interval %d", a.in.Step, a.in.Run.Intervals+1)})
	req := release.AnalyzeRequest{Spec: a.in.Spec, Vars: a.in.Vars, Run: a.in.Run}
	if watching {
		// measured when the timer fires, or as soon as an alert fires before that
		req.Until = workflow.Now(ctx).Add(a.in.Interval)
	} else if err := timer.Get(ctx, nil); err != nil {
		return release.AnalysisOutcome{}, false, err
	}
	res := a.measure(ctx, actx, req, watching)
	before := a.in.Run
	a.in.Run, a.in.Summary = res.Run, res.Summary
	if watching {
		a.log(res.Record)
		a.notifyFailures(ctx, before, res.Decision)
	}
	switch res.Decision.Action {
	case analysis.Rollback:
		// no wait for earlier notices here: traffic goes back first
		return a.outcome(analysis.Rollback, res.Decision.Reason), true, nil
	case analysis.Pause, analysis.Errored:
		a.drainNotices(ctx)
		return a.outcome(analysis.Pause, res.Decision.Reason), true, nil
	}
	if watching {
		// the interval's clock: it has fired already unless an activity attempt ended early
		if err := timer.Get(ctx, nil); err != nil {
			return release.AnalysisOutcome{}, false, err
		}
	}
	if res.Decision.Action == analysis.PromoteEligible && workflow.Now(ctx).Sub(a.in.StartedAt) >= a.in.Min {
		a.drainNotices(ctx)
		return a.outcome(analysis.Promote, res.Decision.Reason), true, nil
	}
	return release.AnalysisOutcome{}, false, nil
}

// measure runs the interval's activity; a measurement that failed counts as an interval in
// error, never as a pass.
func (a *analysisRun) measure(ctx, actx workflow.Context, req release.AnalyzeRequest, watching bool) release.AnalyzeResult {
	var res release.AnalyzeResult
	err := workflow.ExecuteActivity(actx, release.ActivityAnalyze, req).Get(ctx, &res)
	if err == nil {
		return res
	}
	res.Run = a.in.Run
	res.Decision = res.Run.Record(analysis.IntervalResult{AlertsError: err.Error()})
	res.Summary = []string{"measurement failed: " + err.Error()}
	if watching {
		rec := analysis.NewIntervalRecord(res.Run.Intervals, workflow.Now(ctx), analysis.IntervalResult{AlertsError: err.Error()}, res.Decision)
		res.Record = &rec
	}
	return res
}

// analysisRun is the state of one run of AnalysisWorkflow.
type analysisRun struct {
	in      release.AnalysisInput
	id      string
	notices []workflow.Future
}

func (a *analysisRun) outcome(action analysis.Action, reason string) release.AnalysisOutcome {
	return release.AnalysisOutcome{Step: a.in.Step, Action: action, Reason: reason, Intervals: a.in.Run.Intervals,
		Summary: a.in.Summary, WorkflowID: a.id, Metrics: a.in.Run.Metrics}
}

// log keeps the latest intervals in compact form for status; older ones stay in the history.
func (a *analysisRun) log(rec *analysis.IntervalRecord) {
	if rec == nil {
		return
	}
	a.in.Recent = append(a.in.Recent, *rec)
	if n := len(a.in.Recent); n > recentIntervals {
		a.in.Recent = append([]analysis.IntervalRecord(nil), a.in.Recent[n-recentIntervals:]...)
	}
}

// notifyFailures tells the release's followers of each failing verdict that did not end the
// run (an ending one is in the parent's rollback or pause notice): every failure of a deciding
// metric, since each spends budget, and a dry-run metric's first failure after other outcomes.
// Notices run alongside the next interval; a run waits for them before it ends.
func (a *analysisRun) notifyFailures(ctx workflow.Context, before analysis.Run, d analysis.Decision) {
	if d.Terminal() {
		return
	}
	for i, m := range a.in.Run.Metrics {
		if m.Last == nil || m.Last.Outcome != analysis.Fail {
			continue
		}
		if m.DryRun && i < len(before.Metrics) && before.Metrics[i].Last != nil && before.Metrics[i].Last.Outcome == analysis.Fail {
			continue
		}
		budget := fmt.Sprintf("failure %d of %d allowed", m.Failures, m.FailureLimit)
		if m.DryRun {
			budget = "dry run, not deciding"
		}
		n := release.Notice{ReleaseID: a.in.ReleaseID, Channel: a.in.Channel, Kind: release.NoticeAnalysis, At: workflow.Now(ctx),
			Key:  fmt.Sprintf("%s/notice/%d/%s", a.id, a.in.Run.Intervals, m.Name),
			Text: fmt.Sprintf("%s %s, %s analysis, interval %d: %s (%s)", a.in.Vars.Service, a.in.Vars.Version, a.in.Step, a.in.Run.Intervals, m.Last.Evidence(), budget)}
		nctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
			Summary:             "notify: " + release.NoticeAnalysis,
		})
		a.notices = append(a.notices, workflow.ExecuteActivity(nctx, release.ActivityNotify, n))
	}
}

// drainNotices waits for the notices sent, so none is lost when the run ends; a failed one is
// logged and never fails the analysis.
func (a *analysisRun) drainNotices(ctx workflow.Context) {
	for _, f := range a.notices {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("analysis notice failed", "error", err)
		}
	}
	a.notices = nil
}

// startAnalysis runs the analysis of the window just opened as a child workflow; its outcome
// comes back through onAnalysis. Policies without analysis change nothing (no version marker).
func (w *rel) startAnalysis(ctx workflow.Context, window string, min, maxD time.Duration) {
	p := w.pol
	if p.Analysis == nil || workflow.GetVersion(ctx, versionCanaryAnalysis, workflow.DefaultVersion, 1) != 1 {
		return
	}
	interval := p.AnalysisInterval()
	in := release.AnalysisInput{
		ReleaseID: w.st.ID, Step: window, Spec: *p.Analysis, Interval: interval, Min: min, Max: max(min, maxD),
		StartedAt: workflow.Now(ctx), Run: analysis.NewRun(*p.Analysis, int(min/interval)),
		Vars: analysis.Vars{Service: w.st.Service, Version: w.st.Version, BaselineVersion: w.st.Previous,
			Stage: string(w.st.Stage), Interval: p.Analysis.Interval},
		Channel: w.in.Manifest.Channel,
	}
	if in.Channel == "" {
		in.Channel = p.Channel
	}
	childID := w.st.ID + "/analysis/" + window
	// status shows the running child's own view: internal/control queries it by this id
	w.st.Analyses = append(w.st.Analyses, release.AnalysisOutcome{Step: window, Action: analysis.Running, WorkflowID: childID,
		Reason: fmt.Sprintf("every %s, promotion after %s at the earliest", interval, min)})
	w.publish(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:    childID,
			StaticSummary: fmt.Sprintf("%s %s: %s analysis", w.st.Service, w.st.Version, window),
		})
		var out release.AnalysisOutcome
		if err := workflow.ExecuteChildWorkflow(cctx, release.AnalysisWorkflowName, in).Get(ctx, &out); err != nil {
			out = release.AnalysisOutcome{Step: window, Action: analysis.Pause, WorkflowID: childID, Reason: "the analysis could not run: " + err.Error()}
		}
		w.onAnalysis(ctx, out)
	})
}

// onAnalysis acts on an analysis outcome: a failure rolls back at once (or pauses, when the
// policy says so for this stage), with nobody to wait for. The audit gets the outcome with one
// line per metric covering every interval (counts, timeline, value range, last evidence); the
// rollback's reason, and so its notice, carries the failing metric, its values and query.
func (w *rel) onAnalysis(ctx workflow.Context, out release.AnalysisOutcome) {
	if w.stop != nil || w.base.Final() {
		return
	}
	for i := range w.st.Analyses {
		if w.st.Analyses[i].Step == out.Step {
			w.st.Analyses[i] = out
		}
	}
	evidence := out.Evidence()
	if len(evidence) == 0 {
		evidence = out.Summary // a child from before versionAlertWatch
	}
	entry := release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "analysis",
		Target: out.Step, Accepted: out.Action == analysis.Promote, Reason: string(out.Action) + ": " + out.Reason, Evidence: evidence}
	w.audit(ctx, entry)
	action := out.Action
	if action == analysis.Rollback && w.pol.FailureAction(w.st.Stage) == release.FailurePause {
		action = analysis.Pause
	}
	switch action {
	case analysis.Rollback:
		w.stop = &release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: release.SignalRollback,
			Reason: "analysis of " + out.Step + " failed: " + out.Reason, At: workflow.Now(ctx), Accepted: true}
		w.audit(ctx, *w.stop)
	case analysis.Pause:
		w.st.Paused = true
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: release.SignalPause,
			Target: out.Step, Accepted: true, Reason: "analysis needs a person: " + out.Reason + " (resume accepts it; rollback or abort do not)"})
		w.notify(ctx, release.NoticeAnalysis, fmt.Sprintf("%s %s paused: analysis of %s: %s", w.st.Service, w.st.Version, out.Step, out.Reason))
	}
	w.publish(ctx)
}

// analysisOK reports whether the analysis of a window (if any) lets the release move on.
func (w *rel) analysisOK(window string) bool {
	for _, a := range w.st.Analyses {
		if a.Step == window {
			return a.Action == analysis.Promote
		}
	}
	return true
}

// acceptPausedAnalyses is resume's effect on analyses that paused: the person decided.
func (w *rel) acceptPausedAnalyses(actor string) {
	for i := range w.st.Analyses {
		if a := &w.st.Analyses[i]; a.Action == analysis.Pause {
			a.Action, a.Reason = analysis.Promote, "accepted by "+actor+" on resume after: "+a.Reason
		}
	}
}
