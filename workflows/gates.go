package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/probe"
	"github.com/shipgate/shipgate/internal/release"
)

// runGate evaluates one gate: its automated checks in parallel, then waits for its signoffs.
// A failed check or a rejection blocks the gate until a recheck (new evidence) or the end.
func (w *rel) runGate(ctx workflow.Context, gi int) {
	gs := &w.st.Gates[gi]
	w.followSignoffs(ctx, gi)
	attempt := 0
	for {
		attempt++
		gs.State = release.GateRunning
		w.publish(ctx)
		w.runAutomated(ctx, gi, attempt)
		w.updateGate(ctx, gi)
		w.awaitGate(ctx, gi)
		if w.stop != nil || gs.State == release.GatePassed {
			return
		}
		for ci := range gs.Checks {
			// Before signed commands, a recheck also cleared rejections (kept for replay).
			if cs := &gs.Checks[ci]; cs.State == release.CheckRejected && !w.signed {
				cs.State, cs.Detail = release.CheckPending, "rejection cleared by recheck"
				if len(cs.Approvals) >= cs.Needed {
					cs.State = release.CheckPassed
				}
			}
		}
	}
}

// awaitGate waits until the gate passes (and says so) or, once blocked, until a recheck asks
// for its automated checks again; a rejection cleared meanwhile sends it back to waiting.
func (w *rel) awaitGate(ctx workflow.Context, gi int) {
	gs := &w.st.Gates[gi]
	for {
		_ = workflow.Await(ctx, func() bool {
			return w.stop != nil || gs.State == release.GatePassed || gs.State == release.GateBlocked
		})
		if w.stop != nil {
			return
		}
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"gate": gs.ID, "outcome": string(gs.State)}).
			Counter("shipgate_gate_outcomes_total").Inc(1)
		if gs.State == release.GatePassed {
			w.notify(ctx, release.NoticeGate, fmt.Sprintf("gate %s %s passed", gs.ID, gs.Name))
			return
		}
		// A recheck may come while the notice below goes out (an activity): counted from
		// before it, so it is never lost. Releases before signed commands counted from after
		// (and could wait for a second recheck); they replay as they ran.
		seen := w.rechecks[gs.ID]
		w.notify(ctx, release.NoticeGate, fmt.Sprintf("gate %s %s blocked: %s — waiting for recheck or abort", gs.ID, gs.Name, w.gateProblems(gi)))
		if !w.signed {
			seen = w.rechecks[gs.ID]
		}
		_ = workflow.Await(ctx, func() bool {
			return w.stop != nil || w.rechecks[gs.ID] != seen || (w.signed && gs.State != release.GateBlocked)
		})
		if w.stop != nil || w.rechecks[gs.ID] != seen {
			return
		}
	}
}

// checkHeartbeatTimeout: an automated check heartbeats while it runs, so a worker that dies
// mid-check is noticed in seconds and the check retried on another; without it the gate
// waited out the check's 5-minute budget (found by the chaos suite's worker kills). Only the
// scheduled activity's options change, not the workflow's commands: histories replay as before.
const checkHeartbeatTimeout = 10 * time.Second

// runAutomated runs every applicable evidence and probe check of the gate as activities, in
// parallel, and records their results.
func (w *rel) runAutomated(ctx workflow.Context, gi int, attempt int) {
	g := w.pol.Gates[gi]
	gs := &w.st.Gates[gi]
	type pending struct {
		ci  int
		fut workflow.Future
	}
	var futs []pending
	for ci, c := range g.Checks {
		cs := &gs.Checks[ci]
		if c.Kind == release.KindSignoff || cs.State == release.CheckSkipped {
			continue
		}
		cs.State, cs.Attempt = release.CheckRunning, attempt
		o := workflow.ActivityOptions{
			StartToCloseTimeout: 5 * time.Minute,
			HeartbeatTimeout:    checkHeartbeatTimeout,
			RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3, InitialInterval: 2 * time.Second},
			Summary:             fmt.Sprintf("%s %s: %s check", g.ID, c.Name, c.Type),
		}
		actx := workflow.WithActivityOptions(ctx, o)
		req := release.CheckRequest{ReleaseID: w.st.ID, Service: w.st.Service, Version: w.st.Version,
			Environment: w.in.Manifest.Environment(w.st.Stage), Gate: g.ID, Check: c,
			Commit: w.in.Manifest.Commit, Blobs: w.in.Manifest.Blobs[c.Name], Evidence: w.in.Manifest.Evidence[c.Name], Attempt: attempt}
		if window, ok := probe.MeasureWindow(c.Type, c.Params); ok && c.Kind == release.KindProbe && w.st.Stage.Deploys() {
			cs.Detail = fmt.Sprintf("measures %s on %s over the %v after its deploy there", w.st.Version, req.Environment, window)
			futs = append(futs, pending{ci, w.afterDeploy(ctx, actx, req, window)})
			continue
		}
		// An evidence check is a blob read and a parser: a local activity (versionLocalActivities).
		// Probes ask live systems that may be slow: activities of their own.
		futs = append(futs, pending{ci, quick(ctx, w.local && c.Kind == release.KindEvidence, o, release.ActivityEvaluateCheck, req)})
	}
	w.publish(ctx)
	for _, p := range futs {
		var res release.CheckResult
		err := p.fut.Get(ctx, &res)
		cs := &gs.Checks[p.ci]
		if err != nil {
			res = release.CheckResult{Outcome: release.OutcomeError, Detail: "check could not run: " + err.Error()}
		}
		cs.Detail, cs.Evidence = res.Detail, res.Evidence
		switch res.Outcome {
		case release.OutcomePass:
			cs.State = release.CheckPassed
		case release.OutcomeFail:
			cs.State = release.CheckFailed
		default:
			cs.State = release.CheckError
		}
		digests := make([]string, 0, len(res.Evidence))
		for _, e := range res.Evidence {
			digests = append(digests, e.Location+"@sha256:"+e.SHA256)
		}
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "check",
			Target: g.ID + "/" + cs.Name, Accepted: cs.State == release.CheckPassed, Reason: string(res.Outcome) + ": " + res.Detail, Evidence: digests})
	}
}

// afterDeploy runs a check that measures the release's version on the stage's environment
// (a resource-usage probe) once the version has been deployed there and has run for window:
// gates open when the stage is entered, while the deploy is still under way, and measuring then
// judges the version it replaces. A recheck later runs at once. The wait is a durable timer.
func (w *rel) afterDeploy(ctx, actx workflow.Context, req release.CheckRequest, window time.Duration) workflow.Future {
	fut, set := workflow.NewFuture(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		var at time.Time
		_ = workflow.Await(ctx, func() bool {
			at = w.deployedAt(req.Environment)
			return w.stop != nil || !at.IsZero()
		})
		if wait := at.Add(window).Sub(workflow.Now(ctx)); w.stop == nil && wait > 0 {
			_ = workflow.NewTimerWithOptions(ctx, wait, workflow.TimerOptions{
				Summary: fmt.Sprintf("%s: %s on %s until %s", req.Check.Name, req.Version, req.Environment, at.Add(window).UTC().Format(time.RFC3339)),
			}).Get(ctx, nil)
		}
		var res release.CheckResult
		err := workflow.ExecuteActivity(actx, release.ActivityEvaluateCheck, req).Get(ctx, &res)
		set.Set(res, err)
	})
	return fut
}

// deployedAt is when the release's version went to all of env's traffic; zero until then.
func (w *rel) deployedAt(env string) time.Time {
	for _, d := range w.st.Deployments {
		if d.Kind == "service" && d.Environment == env && d.Version == w.st.Version && d.Percent == 100 {
			return d.At
		}
	}
	return time.Time{}
}

// updateGate derives the gate's state from its checks; called after every change to them.
func (w *rel) updateGate(ctx workflow.Context, gi int) {
	gs := &w.st.Gates[gi]
	if gs.State == release.GatePending || gs.State == release.GatePassed {
		return
	}
	blocked, running, waiting := false, false, false
	for _, cs := range gs.Checks {
		switch cs.State {
		case release.CheckFailed, release.CheckError, release.CheckRejected:
			blocked = true
		case release.CheckRunning:
			running = true
		case release.CheckPending:
			waiting = true
		}
	}
	switch {
	case blocked:
		gs.State = release.GateBlocked
	case running:
		gs.State = release.GateRunning
	case waiting:
		gs.State = release.GateWaiting
	default:
		gs.State = release.GatePassed
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "gate-passed", Target: gs.ID, Accepted: true})
	}
	w.publish(ctx)
}

func (w *rel) gateProblems(gi int) string {
	var out []string
	for _, cs := range w.st.Gates[gi].Checks {
		switch cs.State {
		case release.CheckFailed, release.CheckError, release.CheckRejected:
			out = append(out, fmt.Sprintf("%s %s (%s)", cs.Name, cs.State, cs.Detail))
		}
	}
	return strings.Join(out, "; ")
}

// fingerprint is what an approver of check in gate gi is shown: it changes with the evidence.
// The Slack buttons carry the same value (release.GateFingerprint).
func (w *rel) fingerprint(gi int, check string) string {
	return release.GateFingerprint(w.st.Gates[gi], check)
}
