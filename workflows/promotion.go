package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/promotion"
	"github.com/shipgate/shipgate/internal/release"
)

// How promotion is held (the one rule, here):
//   - Points: leaving development, staging, testnet and canary, and every production traffic
//     increase (the canary share and each rollout step). Rollback, abort and traffic decreases
//     are never points: the way back is never held.
//   - At a point the release asks the policy's windows (internal/promotion) for the next
//     allowed moment and waits on one durable timer to it, named with the hold in words; a
//     stopped line holds until it is restarted. A new hold is notified once.
//   - While held, windows, bakes and analyses keep counting: only the point waits.
//   - An abort or rollback ends the wait at once; a relayed line command or an override makes
//     the release ask again.
//   - The answer is recorded (SideEffect): a worker with another zone database replays it alike.
type promo struct {
	on bool
	// joined is set once the release is a member of its policy's line.
	joined bool
	// line is the latest stop-the-line command the release verified; nil: never frozen.
	line *release.LineCommand
	// gen changes whenever something a hold depends on changes (line, overrides).
	gen int
	// lifted are the window occurrences two release managers let the release through.
	lifted []release.OverrideRec
}

// joinLine joins the release to its policy's line and takes the line's state, verified; a
// release that cannot join is refused: it could not hear a stop-the-line. A stopped line
// holds the new release here, before anything runs. done: the release ended (refused,
// aborted or canceled while held), with res and err.
func (w *rel) joinLine(ctx workflow.Context) (res release.Result, done bool, err error) {
	w.pr.on = workflow.GetVersion(ctx, versionPromotionWindows, workflow.DefaultVersion, 1) >= 1
	if !w.pr.on {
		return release.Result{}, false, nil
	}
	workflow.Go(ctx, w.listenLine)
	o := workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{MaximumInterval: 30 * time.Second},
		Summary:                "join the line of policy " + w.st.PolicyName,
	}
	local := workflow.GetVersion(ctx, versionLocalJoin, workflow.DefaultVersion, 1) >= 1
	var ls release.LineState
	if err := quick(ctx, local, o, release.ActivityJoinLine, release.JoinLineRequest{Policy: w.st.PolicyName, Release: w.st.ID}).Get(ctx, &ls); err != nil {
		res, _ := w.refuseStart(ctx, w.in.Start, release.RefusedDenied, fmt.Sprintf("cannot join the line of policy %q (a release that cannot hear a stop-the-line does not start): %v", w.st.PolicyName, err))
		return res, true, nil
	}
	w.pr.joined = true
	if ls.Latest != nil {
		w.takeLine(ctx, *ls.Latest)
	}
	// A stopped line holds new releases before anything runs.
	if err := w.untilPromotes(ctx, promotion.Point{Leave: "start"}, always); err != nil {
		res, err := w.canceled(ctx)
		return res, true, err
	}
	if w.stop != nil {
		res, err := w.finishStop(ctx)
		return res, true, err
	}
	return release.Result{}, false, nil
}

// leaveLine tells the line the release has ended, so that its member list stays the running
// releases; it runs even while the workflow is being canceled, and a line that is gone is no
// matter.
func (w *rel) leaveLine(ctx workflow.Context) {
	if !w.pr.joined {
		return
	}
	dctx := disconnected(ctx)
	_ = workflow.SignalExternalWorkflow(dctx, release.LineID(w.st.PolicyName), "", release.SignalLeave, w.st.ID).Get(dctx, nil)
}

// listenLine takes the stop-the-line commands the line relays.
func (w *rel) listenLine(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, release.SignalLine)
	for {
		var lc release.LineCommand
		ch.Receive(ctx, &lc)
		w.takeLine(ctx, lc)
	}
}

// takeLine verifies a relayed stop-the-line command against the release's own policy and
// takes it when it is newer than the one the release holds.
func (w *rel) takeLine(ctx workflow.Context, lc release.LineCommand) {
	entry := release.AuditEntry{Actor: lc.Command.Actor, Channel: release.SignalLine, Action: lc.Action, Target: release.LineID(w.st.PolicyName)}
	who, aerr := w.pol.AuthenticateRelayed(lc, w.st.PolicyName)
	if aerr != nil {
		w.refuseUnauthenticated(ctx, release.SignalLine, lc.Command, entry, aerr)
		return
	}
	entry.Actor = who.ID
	switch {
	case !w.pol.MayFreeze(who.ID):
		entry.Reason = fmt.Sprintf("refused: %s may not stop or restart the line under this release's policy", who.ID)
	case w.pr.line != nil && !lc.Command.IssuedAt.After(w.pr.line.Command.IssuedAt):
		// the same command again, or an older one: nothing changes, nothing to record
		return
	default:
		w.pr.line = &lc
		w.pr.gen++
		entry.Accepted, entry.Reason = true, lc.Command.Reason
		w.st.Line = &release.LineStatus{Frozen: lc.Action == release.ActionFreeze, By: who.ID, Reason: lc.Command.Reason, At: lc.Command.IssuedAt}
		what := "stopped the line"
		if lc.Action == release.ActionUnfreeze {
			what = "restarted the line"
		}
		w.notifyAsync(ctx, release.NoticeWindow, fmt.Sprintf("%s %s: %s %s: %s", w.st.Service, w.st.Version, who.ID, what, lc.Command.Reason))
	}
	w.audit(ctx, entry)
	w.publish(ctx)
}

// untilPromotes waits until ready holds and point p may promote, or the release stops; its
// error is the workflow's cancellation. Before versionPromotionWindows it is the plain wait
// for ready.
func (w *rel) untilPromotes(ctx workflow.Context, p promotion.Point, ready func() bool) error {
	if err := workflow.Await(ctx, func() bool { return w.stop != nil || ready() }); err != nil || !w.pr.on {
		return err
	}
	for w.stop == nil {
		h := w.holdAt(ctx, p)
		if h == nil {
			if w.st.Hold != nil {
				w.st.Hold = nil
				w.publish(ctx)
			}
			if ready() {
				return nil
			}
			// something else holds it again meanwhile (a pause, an issue): wait for that first
			if err := workflow.Await(ctx, func() bool { return w.stop != nil || ready() }); err != nil {
				return err
			}
			continue
		}
		w.showHold(ctx, h)
		gen := w.pr.gen
		changed := func() bool { return w.stop != nil || w.pr.gen != gen }
		var err error
		if h.Until.IsZero() {
			err = workflow.Await(ctx, changed)
		} else {
			_, err = workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
				Timeout:      h.Until.Sub(workflow.Now(ctx)),
				TimerOptions: workflow.TimerOptions{Summary: h.Text},
			}, changed)
		}
		if err != nil {
			return err
		}
	}
	w.st.Hold = nil // stopping: nothing waits at a point any more (the way back publishes)
	return nil
}

// holdTraffic is untilPromotes for a traffic increase: stop when the release stops instead
// of moving traffic; the error is the workflow's cancellation.
func (w *rel) holdTraffic(ctx workflow.Context) (stop bool, err error) {
	if !w.pr.on {
		return false, nil
	}
	err = w.untilPromotes(ctx, promotion.Point{Traffic: true}, always)
	return w.stop != nil, err
}

// holdAt is what holds point p now, or nil: the stopped line first, then the windows.
func (w *rel) holdAt(ctx workflow.Context, p promotion.Point) *release.HoldStatus {
	if p == (promotion.Point{}) {
		return nil
	}
	now := workflow.Now(ctx)
	if w.pr.line != nil && w.pr.line.Action == release.ActionFreeze {
		c := w.pr.line.Command
		return &release.HoldStatus{Kind: release.HoldLine, Point: p, Since: now,
			Text: fmt.Sprintf("held by stop-the-line (frozen by %s at %s: %s) until it is restarted (shipgate unfreeze)", w.st.Line.By, c.IssuedAt.UTC().Format(time.RFC3339), c.Reason)}
	}
	if p.Leave == "start" {
		return nil
	}
	rules, lifted := w.pol.Promotion, w.lifted()
	var ans *release.HoldStatus
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		set, err := promotion.CompileRules(rules)
		if err != nil {
			return &release.HoldStatus{Kind: release.HoldWindow, Point: p, Since: now, Text: "held: the promotion windows cannot be evaluated on this worker: " + err.Error()}
		}
		h := set.Check(now, p, lifted)
		if h == nil {
			return (*release.HoldStatus)(nil)
		}
		return &release.HoldStatus{Kind: release.HoldWindow, Point: p, Window: h.Window, Key: h.Key, Until: h.Until, Zone: h.Zone, Since: now, Text: h.Text()}
	}).Get(&ans)
	if err != nil {
		return &release.HoldStatus{Kind: release.HoldWindow, Point: p, Since: now, Text: "held: " + err.Error()}
	}
	return ans
}

func (w *rel) lifted() promotion.Lifted {
	lifted := slices.Clone(w.pr.lifted)
	return func(window string, key time.Time) bool {
		return slices.ContainsFunc(lifted, func(o release.OverrideRec) bool { return o.Window == window && o.Key.Equal(key) })
	}
}

// showHold puts a hold in the status, the UI's details and, when it is new, Slack.
func (w *rel) showHold(ctx workflow.Context, h *release.HoldStatus) {
	prev := w.st.Hold
	if prev != nil && prev.Text == h.Text && prev.Point == h.Point {
		return
	}
	if prev != nil && prev.Kind == h.Kind && prev.Window == h.Window && prev.Point == h.Point {
		h.Since = prev.Since
	}
	w.st.Hold = h
	w.notify(ctx, release.NoticeWindow, fmt.Sprintf("%s %s (%s): %s", w.st.Service, w.st.Version, h.Point, h.Text))
	w.publish(ctx)
}

// holdWaits is the hold in words for WaitingFor.
func (w *rel) holdWaits() []string {
	if w.st.Hold == nil {
		return nil
	}
	return []string{w.st.Hold.Point.String() + ": " + w.st.Hold.Text}
}

// override records one release manager's request to let the release through the window that
// holds it now; the second distinct release manager, neither the author, lifts that
// occurrence of the window for this release. The rules are break-glass's.
func (w *rel) override(ctx workflow.Context, cmd release.Command) (string, bool) {
	if !w.pr.on {
		return "refused: this release predates promotion windows", false
	}
	if !w.pol.InGroup(w.pol.Roles.ReleaseManagers, cmd.Actor) {
		return fmt.Sprintf("refused: only release managers (group %s) may override a promotion window", w.pol.Roles.ReleaseManagers), false
	}
	if w.isAuthor(cmd.Actor) {
		return fmt.Sprintf("refused: %s is the author of the release and never counts toward an override", cmd.Actor), false
	}
	if strings.TrimSpace(cmd.Reason) == "" {
		return "refused: an override needs a reason", false
	}
	h := w.st.Hold
	switch {
	case h == nil:
		return "refused: no window holds the release now", false
	case h.Kind == release.HoldLine:
		return "refused: the line is stopped; it holds every release until a freezer restarts it (shipgate unfreeze)", false
	case h.Window != cmd.Window:
		return fmt.Sprintf("refused: window %q does not hold the release; %s", cmd.Window, h.Text), false
	}
	who, _ := w.pol.Resolve(cmd.Actor)
	var others []string
	for _, o := range w.st.Overrides {
		if o.Window == h.Window && o.Key.Equal(h.Key) {
			if o.Actor == who.ID {
				return fmt.Sprintf("refused: %s already asked to override %s; a second release manager must agree", who.ID, h.Window), false
			}
			others = append(others, o.Actor)
		}
	}
	rec := release.OverrideRec{Window: h.Window, Key: h.Key, Actor: who.ID, Reason: cmd.Reason, At: workflow.Now(ctx)}
	w.st.Overrides = append(w.st.Overrides, rec)
	if len(others) == 0 {
		return cmd.Reason + " (1 of 2 release managers)", true
	}
	w.pr.lifted = append(w.pr.lifted, rec)
	w.pr.gen++
	w.notifyAsync(ctx, release.NoticeWindow, fmt.Sprintf("%s %s: %s and %s let the release through window %s: %s", w.st.Service, w.st.Version, others[0], who.ID, h.Window, cmd.Reason))
	return cmd.Reason + " (2 of 2: the release goes through window " + h.Window + " once)", true
}

// always is a ready condition that holds: the point waits for nothing but its hold.
func always() bool { return true }
