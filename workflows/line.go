package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// LineWorkflow is a policy's line (workflow id release.LineID(policy)): it holds whether every
// release of the policy may promote, durably (it is a workflow: worker and server restarts
// keep it), and relays each accepted freeze and unfreeze to the releases that joined it.
//   - A freeze or unfreeze is a signed command (update release.UpdateLineCommand), verified
//     against the worker's current policy, from a member the policy lets freeze
//     (Policy.MayFreeze), newer than the line's latest command; every attempt is audited.
//   - A release joins when it starts (update release.UpdateJoin, sent with start by the
//     JoinLine activity) and gets the latest command; it verifies it itself against its own
//     policy, so the line and whoever can reach Temporal are only its transport.
//   - Releases that have ended drop out when a relay to them fails; the line continues as new
//     when its history grows long, carrying its state.
func LineWorkflow(ctx workflow.Context, in release.LineInput) error {
	l := &line{LineInput: in, members: map[string]bool{}}
	for _, m := range in.Members {
		l.members[m] = true
	}
	if err := workflow.SetQueryHandler(ctx, release.QueryLine, func() (release.LineState, error) {
		return l.state(true), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, release.UpdateJoin, func(ctx workflow.Context, id string) (release.LineState, error) {
		if !l.members[id] {
			l.members[id] = true
			l.Members = append(l.Members, id)
		}
		return l.state(false), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, release.UpdateLineCommand, l.command,
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, lc release.LineCommand) error {
			// an unsigned or oversized command never reaches the line's history
			switch {
			case lc.Action != release.ActionFreeze && lc.Action != release.ActionUnfreeze:
				return fmt.Errorf("refused: unknown action %q (want freeze or unfreeze)", clip(lc.Action))
			case lc.Command.Signature == "":
				return errors.New("refused: the command is not signed (the CLI signs with --key or ssh-agent)")
			case len(lc.Command.Statement(lc.Action)) > release.MaxCommandBytes:
				return fmt.Errorf("refused: the command is more than %d bytes", release.MaxCommandBytes)
			case l.refused >= forgedAuditCap && l.pol != nil:
				if _, aerr := l.pol.Authenticate(lc.Action, lc.Command, release.Binding{Release: release.LineID(l.Policy)}, workflow.Now(ctx)); aerr != nil {
					return aerr
				}
			}
			return nil
		}}); err != nil {
		return err
	}
	leave := workflow.GetSignalChannel(ctx, release.SignalLeave)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var id string
			leave.Receive(ctx, &id)
			l.leave(id)
		}
	})
	if err := workflow.Await(ctx, func() bool {
		return workflow.GetInfo(ctx).GetContinueAsNewSuggested() && workflow.AllHandlersFinished(ctx)
	}); err != nil {
		return err
	}
	for { // leaves that arrived meanwhile go with the state into the next run
		var id string
		if !leave.ReceiveAsync(&id) {
			break
		}
		l.leave(id)
	}
	next := l.LineInput
	if n := len(next.Audit); n > lineAuditKept {
		next.Audit = next.Audit[n-lineAuditKept:]
	}
	return workflow.NewContinueAsNewError(ctx, LineWorkflow, next)
}

// lineAuditKept is how much of its audit log a line carries into its next run.
const lineAuditKept = 200

type line struct {
	release.LineInput
	members map[string]bool
	// pol is the policy as last loaded; refused counts the commands refused as unproven.
	// Past forgedAuditCap of them the validator authenticates against pol, so forgeries stop
	// reaching the line's history.
	pol     *release.Policy
	refused int
}

// leave drops an ended release from the members.
func (l *line) leave(id string) {
	if !l.members[id] {
		return
	}
	delete(l.members, id)
	l.Members = slices.DeleteFunc(l.Members, func(m string) bool { return m == id })
}

func (l *line) state(full bool) release.LineState {
	s := release.LineState{Policy: l.Policy, Latest: l.Latest, Members: len(l.Members)}
	if full {
		s.Audit = l.Audit
	}
	return s
}

// command decides on a freeze or unfreeze and relays an accepted one to every member.
func (l *line) command(ctx workflow.Context, lc release.LineCommand) (release.AuditEntry, error) {
	entry := release.AuditEntry{At: workflow.Now(ctx), Actor: "unproven:" + clip(lc.Command.Actor), Channel: lc.Command.Channel,
		Action: lc.Action, Target: release.LineID(l.Policy)}
	reason, ok := l.decide(ctx, lc, &entry)
	entry.Accepted, entry.Reason = ok, reason
	l.Audit = append(l.Audit, entry)
	if !ok {
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"reason": release.RefusedDenied}).Counter("shipgate_commands_refused_total").Inc(1)
		return entry, nil
	}
	l.Latest = &lc
	l.relay(ctx, lc)
	return entry, nil
}

func (l *line) decide(ctx workflow.Context, lc release.LineCommand, entry *release.AuditEntry) (string, bool) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
		Summary:             "policy " + l.Policy + " from the worker",
	})
	var pr release.PolicyResult
	if err := workflow.ExecuteActivity(actx, release.ActivityLoadPolicy, release.PolicyRequest{Name: l.Policy}).Get(ctx, &pr); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			err = errors.New(app.Message())
		}
		return fmt.Sprintf("refused: policy %q: %v", l.Policy, err), false
	}
	l.pol = &pr.Policy
	who, aerr := pr.Policy.Authenticate(lc.Action, lc.Command, release.Binding{Release: release.LineID(l.Policy)}, workflow.Now(ctx))
	if aerr != nil {
		l.refused++
		return aerr.Error(), false
	}
	entry.Actor = who.ID
	frozen := l.Latest != nil && l.Latest.Action == release.ActionFreeze
	switch {
	case !pr.Policy.MayFreeze(who.ID):
		return fmt.Sprintf("refused: %s may not stop or restart the line of policy %s (freezers: %v, or release managers and operators when none are named)", who.ID, l.Policy, pr.Policy.Roles.Freezers), false
	case l.Latest != nil && !lc.Command.IssuedAt.After(l.Latest.Command.IssuedAt):
		return fmt.Sprintf("refused: issued at %s, not after the line's latest command (%s): replayed, or the sender's clock is behind", lc.Command.IssuedAt.UTC().Format(time.RFC3339Nano), l.Latest.Command.IssuedAt.UTC().Format(time.RFC3339Nano)), false
	case lc.Action == release.ActionFreeze && frozen:
		return fmt.Sprintf("refused: the line is already stopped (by %s: %s)", l.Latest.Command.Actor, l.Latest.Command.Reason), false
	case lc.Action == release.ActionUnfreeze && !frozen:
		return "refused: the line is not stopped", false
	case strings.TrimSpace(lc.Command.Reason) == "":
		return "refused: " + lc.Action + " needs a reason", false
	}
	return lc.Command.Reason, true
}

// relay signals the command to every member at once; a member that cannot take it (its
// release has ended) drops out.
func (l *line) relay(ctx workflow.Context, lc release.LineCommand) {
	futures := make([]workflow.Future, len(l.Members))
	for i, id := range l.Members {
		futures[i] = workflow.SignalExternalWorkflow(ctx, id, "", release.SignalLine, lc)
	}
	kept := l.Members[:0]
	for i, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			delete(l.members, l.Members[i])
			continue
		}
		kept = append(kept, l.Members[i])
	}
	l.Members = kept
}

// LineRegisterOptions registers LineWorkflow under its name.
func LineRegisterOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: release.LineWorkflowName}
}
