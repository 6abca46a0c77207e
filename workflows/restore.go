package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// wayBackQuery answers release.QueryWayBack: the proxies the release switched, and the one
// it was switching (its step under way), whose switch may have landed.
func (w *rel) wayBackQuery() (release.WayBack, error) {
	wb := release.WayBack{Switched: append([]release.SwitchedProxy(nil), w.ct.switched...)}
	if u := w.ct.underWay; u != nil && u.proxy != nil {
		wb.Switched = append(wb.Switched, *u.proxy)
	}
	return wb, nil
}

// RestoreWorkflow returns what an ended release left (release.RestoreInput): it reads the
// release's history through the worker, authenticates the signed command against the
// release's policy (a release manager or operator), waits until any call the release had in
// flight can no longer land, and then takes the release's own way back, audited, retrying
// until it completes. It ends by freeing the service's production lane.
func RestoreWorkflow(ctx workflow.Context, in release.RestoreInput) (release.RestoreResult, error) {
	w := &rel{rechecks: map[string]int{}, glass: map[string]bool{}, nonces: map[string]time.Time{},
		wayOut: true, laneOn: true, runKey: workflow.GetInfo(ctx).FirstRunID}
	if err := workflow.SetQueryHandler(ctx, release.QueryStatus, func() (release.Status, error) { return w.st, nil }); err != nil {
		return release.RestoreResult{}, err
	}
	refuse := func(why string) (release.RestoreResult, error) {
		return release.RestoreResult{}, temporal.NewNonRetryableApplicationError("restore refused: "+why, "RestoreRefused", nil)
	}
	if id := workflow.GetInfo(ctx).WorkflowExecution.ID; id != release.RestoreWorkflowID(in.Release, in.Run) {
		return refuse(fmt.Sprintf("the workflow id %q is not the restore id of release %s run %s", id, in.Release, in.Run))
	}
	if in.Command == nil {
		return refuse("the command is not signed (the CLI signs with --key or ssh-agent)")
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 5}, Summary: "read " + in.Release})
	var er release.EndedRelease
	if err := workflow.ExecuteActivity(actx, release.ActivityReadEnded, release.LaneEntry{Release: in.Release, Run: in.Run}).Get(ctx, &er); err != nil {
		return refuse(cause(err))
	}
	switch {
	case er.Running:
		return refuse(in.Release + " is still running: rollback or abort it")
	case er.Status.State.Final():
		return refuse(fmt.Sprintf("%s ended %s itself (%s): it took its own way back", in.Release, er.Status.State, er.Status.Reason))
	}
	pr, err := loadPolicy(ctx, er.Status.PolicyName, false)
	if err != nil {
		return refuse(err.Error())
	}
	pol := &pr.Policy
	cmd := *in.Command
	who, aerr := pol.Authenticate(release.ActionRestore, cmd, release.Binding{Release: in.Release, Run: in.Run}, workflow.Now(ctx))
	if aerr != nil {
		return refuse(aerr.Error())
	}
	w.in, w.pol, w.st, w.base = er.Input, pol, er.Status, er.Status.State
	w.st.Execution, w.laneRun = er.Ended, in.Run
	cmd.Actor = who.ID
	if r, ok := w.mayOperate(who.ID); !ok {
		return refuse(r)
	}
	if cmd.Reason == "" {
		return refuse("a restore needs a reason")
	}
	if er.WayBack != nil {
		w.ct.switched = er.WayBack.Switched
	}
	if cmd.To != "" {
		if r, ok := w.pointAt(ctx, release.SignalRollback, cmd); !ok {
			return refuse(r)
		}
	}
	w.stop = &release.AuditEntry{Actor: who.ID, Channel: cmd.Channel, Action: release.ActionRestore, Accepted: true,
		Reason: fmt.Sprintf("%s ended %s without its way back: %s", in.Release, er.Ended, cmd.Reason), At: workflow.Now(ctx)}
	w.audit(ctx, *w.stop)
	w.publish(ctx)
	if wait := er.InFlightUntil.Sub(workflow.Now(ctx)); wait > 0 {
		w.backStep = fmt.Sprintf("waiting until %s: a call the release had in flight could still land", er.InFlightUntil.UTC().Format(time.RFC3339))
		w.publish(ctx)
		if err := workflow.NewTimerWithOptions(ctx, wait, workflow.TimerOptions{Summary: w.backStep}).Get(ctx, nil); err != nil {
			return release.RestoreResult{}, err
		}
	}
	why := fmt.Sprintf("restored by %s: %s", who.ID, cmd.Reason)
	moved, _ := w.wayBack(ctx, why)
	note := why + "; nothing had moved production traffic"
	if moved {
		note = fmt.Sprintf("%s; production traffic back to %s", why, w.st.RollbackPlan.TargetVersion)
	}
	w.setState(ctx, release.StateRestored, note)
	w.lane = laneHolder
	w.leaveLane(ctx)
	return release.RestoreResult{State: release.StateRestored, Live: release.LeftLive(w.st), Note: note}, nil
}

// loadPolicy asks the worker for one of its policies (release.ActivityLoadPolicy).
func loadPolicy(ctx workflow.Context, name string, local bool) (release.PolicyResult, error) {
	if name == "" {
		name = release.DefaultPolicyName
	}
	o := workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
		Summary:             "policy " + name + " from the worker",
	}
	var pr release.PolicyResult
	if err := quick(ctx, local, o, release.ActivityLoadPolicy, release.PolicyRequest{Name: name}).Get(ctx, &pr); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			err = errors.New(app.Message())
		}
		return pr, fmt.Errorf("policy %q: %v", name, err)
	}
	return pr, nil
}
