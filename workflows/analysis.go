package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/release"
)

// intervalsPerRun bounds one run of AnalysisWorkflow: about 11 events an interval keeps every
// run near 4,500 events, under the 10,000 budget, however long the watch.
const intervalsPerRun = 400

// AnalysisWorkflow measures one canary watch or production bake every interval and decides:
// promote (after Min, when the run is promote-eligible), rollback (a failure budget is spent
// or an SLO alert fired) or pause (inconclusive or error budget spent, or Max reached without
// a passing run: never a silent pass). It continues as new to keep its history small.
func AnalysisWorkflow(ctx workflow.Context, in release.AnalysisInput) (release.AnalysisOutcome, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: max(in.Interval, 30*time.Second),
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 2},
	})
	out := func(action, reason string) release.AnalysisOutcome {
		return release.AnalysisOutcome{Step: in.Step, Action: action, Reason: reason, Intervals: in.Run.Intervals, Summary: in.Summary}
	}
	if err := workflow.SetQueryHandler(ctx, release.QueryStatus, func() (release.AnalysisOutcome, error) {
		return out("running", in.Run.Decision.Reason), nil
	}); err != nil {
		return release.AnalysisOutcome{}, err
	}
	for n := 0; ; n++ {
		if n == intervalsPerRun {
			return release.AnalysisOutcome{}, workflow.NewContinueAsNewError(ctx, AnalysisWorkflow, in)
		}
		elapsed := workflow.Now(ctx).Sub(in.StartedAt)
		if elapsed >= in.Max {
			if in.Run.Decision.Action == analysis.PromoteEligible {
				return out("promote", in.Run.Decision.Reason), nil
			}
			return out("pause", fmt.Sprintf("the watch ended after %s without a passing run: %s", in.Max, in.Run.Decision.Reason)), nil
		}
		timer := workflow.NewTimerWithOptions(ctx, in.Interval, workflow.TimerOptions{
			Summary: fmt.Sprintf("%s analysis: interval %d", in.Step, in.Run.Intervals+1)})
		if err := timer.Get(ctx, nil); err != nil {
			return release.AnalysisOutcome{}, err
		}
		var res release.AnalyzeResult
		err := workflow.ExecuteActivity(actx, release.ActivityAnalyze, release.AnalyzeRequest{Spec: in.Spec, Vars: in.Vars, Run: in.Run}).Get(ctx, &res)
		if err != nil {
			// the measurement itself failed: count it as an interval in error, never as a pass
			res.Run = in.Run
			res.Decision = res.Run.Record(analysis.IntervalResult{AlertsError: err.Error()})
			res.Summary = []string{"measurement failed: " + err.Error()}
		}
		in.Run, in.Summary = res.Run, res.Summary
		switch res.Decision.Action {
		case analysis.Rollback:
			return out("rollback", res.Decision.Reason), nil
		case analysis.Pause, analysis.Errored:
			return out("pause", res.Decision.Reason), nil
		case analysis.PromoteEligible:
			if workflow.Now(ctx).Sub(in.StartedAt) >= in.Min {
				return out("promote", res.Decision.Reason), nil
			}
		}
	}
}

// startAnalysis runs the analysis of the window just opened as a child workflow; its outcome
// comes back through onAnalysis. Policies without analysis change nothing (no version marker).
func (w *rel) startAnalysis(ctx workflow.Context, window string, min, maxD time.Duration) {
	p := &w.in.Policy
	if p.Analysis == nil || workflow.GetVersion(ctx, "canary-analysis", workflow.DefaultVersion, 1) != 1 {
		return
	}
	interval := p.AnalysisInterval()
	in := release.AnalysisInput{
		ReleaseID: w.st.ID, Step: window, Spec: *p.Analysis, Interval: interval, Min: min, Max: max(min, maxD),
		StartedAt: workflow.Now(ctx), Run: analysis.NewRun(*p.Analysis, int(min/interval)),
		Vars: analysis.Vars{Service: w.st.Service, Version: w.st.Version, BaselineVersion: w.st.Previous,
			Stage: string(w.st.Stage), Interval: p.Analysis.Interval},
	}
	w.st.Analyses = append(w.st.Analyses, release.AnalysisOutcome{Step: window, Action: "running",
		Reason: fmt.Sprintf("every %s, promotion after %s at the earliest", interval, min)})
	w.publish(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:    w.st.ID + "/analysis/" + window,
			StaticSummary: fmt.Sprintf("%s %s: %s analysis", w.st.Service, w.st.Version, window),
		})
		var out release.AnalysisOutcome
		if err := workflow.ExecuteChildWorkflow(cctx, release.WorkflowAnalysis, in).Get(ctx, &out); err != nil {
			out = release.AnalysisOutcome{Step: window, Action: "pause", Reason: "the analysis could not run: " + err.Error()}
		}
		w.onAnalysis(ctx, out)
	})
}

// onAnalysis acts on an analysis outcome: a failure rolls back at once (or pauses, when the
// policy says so for this stage), with nobody to wait for.
func (w *rel) onAnalysis(ctx workflow.Context, out release.AnalysisOutcome) {
	if w.stop != nil || w.base.Final() {
		return
	}
	for i := range w.st.Analyses {
		if w.st.Analyses[i].Step == out.Step {
			w.st.Analyses[i] = out
		}
	}
	entry := release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "analysis",
		Target: out.Step, Accepted: out.Action == "promote", Reason: out.Action + ": " + out.Reason, Evidence: out.Summary}
	w.audit(ctx, entry)
	action := out.Action
	if action == "rollback" && w.in.Policy.FailureAction(w.st.Stage) == "pause" {
		action = "pause"
	}
	switch action {
	case "rollback":
		w.stop = &release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: release.SignalRollback,
			Reason: "analysis of " + out.Step + " failed: " + out.Reason, At: workflow.Now(ctx), Accepted: true}
		w.audit(ctx, *w.stop)
	case "pause":
		w.st.Paused = true
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: release.SignalPause,
			Target: out.Step, Accepted: true, Reason: "analysis needs a person: " + out.Reason + " (resume accepts it; rollback or abort do not)"})
		w.notify(ctx, release.NoticeGate, fmt.Sprintf("%s %s paused: analysis of %s: %s", w.st.Service, w.st.Version, out.Step, out.Reason))
	}
	w.publish(ctx)
}

// analysisOK reports whether the analysis of a window (if any) lets the release move on.
func (w *rel) analysisOK(window string) bool {
	for _, a := range w.st.Analyses {
		if a.Step == window {
			return a.Action == "promote"
		}
	}
	return true
}

// acceptPausedAnalyses is resume's effect on analyses that paused: the person decided.
func (w *rel) acceptPausedAnalyses(actor string) {
	for i := range w.st.Analyses {
		if a := &w.st.Analyses[i]; a.Action == "pause" {
			a.Action, a.Reason = "promote", "accepted by "+actor+" on resume after: "+a.Reason
		}
	}
}
