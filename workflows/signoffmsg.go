package workflows

import (
	"fmt"
	"reflect"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// followSignoffs starts one coroutine per applicable signoff check of the gate; each keeps that
// check's Slack message in step with the status (see followSignoff).
func (w *rel) followSignoffs(ctx workflow.Context, gi int) {
	if workflow.GetVersion(ctx, versionSignoffMessages, workflow.DefaultVersion, 1) < 1 {
		return
	}
	for ci, c := range w.pol.Gates[gi].Checks {
		if c.Kind != release.KindSignoff || w.st.Gates[gi].Checks[ci].State == release.CheckSkipped {
			continue
		}
		w.followers++
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { w.followers-- }()
			w.followSignoff(ctx, gi, ci)
		})
	}
}

// settleSignoffs waits, before the release closes, until every signoff message has shown its
// last word (withdrawn, rejected…): activities still running when a workflow completes are
// dropped, and the people in Slack would be left with live buttons. Each follower's last post
// is bounded by its retry policy. Releases started before signed commands closed without it.
func (w *rel) settleSignoffs(ctx workflow.Context) {
	if w.signed {
		_ = workflow.Await(ctx, func() bool { return w.followers == 0 })
	}
}

// followSignoff posts the signoff request once the gate's automated checks have run, then
// updates the same message whenever what it shows changes: an approval, a rejection, a refused
// attempt, new evidence after a recheck (a new fingerprint, so stale buttons are refused and
// the message refreshed), the final outcome. One activity per change; changes that arrive while
// one is posting are folded into the next, so the message is never older than the status for
// long and posts never overtake each other. It ends once the outcome is final.
func (w *rel) followSignoff(ctx workflow.Context, gi, ci int) {
	var shown release.SignoffMessage
	posted, ts := false, ""
	for {
		var next release.SignoffMessage
		var ok, done bool
		_ = workflow.Await(ctx, func() bool {
			next, ok, done = w.signoffMessage(gi, ci, posted)
			return done || (ok && (!posted || !reflect.DeepEqual(next, shown)))
		})
		if !ok || (posted && reflect.DeepEqual(next, shown)) {
			return // nothing was ever shown, or the last message already says it all
		}
		shown, posted = next, true
		next.TS = ts
		var out release.SignoffPosted
		err := quick(ctx, w.local, signoffOptions(next), release.ActivitySignoffMessage, next).Get(ctx, &out)
		switch {
		case err != nil:
			// Never fails the release; the next change tries again.
			workflow.GetLogger(ctx).Warn("signoff message not posted", "check", next.Check, "error", err)
		case out.TS != "":
			ts = out.TS
		}
		if done || next.Result == release.SignoffApproved {
			return
		}
	}
}

// signoffMessage is the message for check ci of gate gi now. ok is false while there is
// nothing to show yet (the gate has not opened or its automated checks are running); done is
// true when this is the last message: the release is stopping or over.
func (w *rel) signoffMessage(gi, ci int, posted bool) (m release.SignoffMessage, ok, done bool) {
	gs := &w.st.Gates[gi]
	ending := w.stop != nil || w.base.Final()
	if ending && !posted {
		return m, false, true
	}
	if !ending && (gs.State == release.GatePending || gs.State == release.GateRunning) {
		return m, false, false
	}
	m = release.BuildSignoffMessage(w.pol, w.in.Manifest.Author, &w.st, gi, ci)
	m.Key = fmt.Sprintf("%s/%s/signoff/%s", w.st.ID, w.runKey, m.Check)
	m.Channel = w.in.Manifest.Channel
	if m.Channel == "" {
		m.Channel = w.pol.Channel
	}
	if ending && m.Result == "" {
		m.Result, m.ResultNote = release.SignoffWithdrawn, w.endNote()
	}
	return m, true, ending
}

// endNote says why a release that is stopping no longer needs the signoff.
func (w *rel) endNote() string {
	if w.stop != nil {
		return fmt.Sprintf("release %s by %s: %s", w.stop.Action, w.stop.Actor, w.stop.Reason)
	}
	return "release " + string(w.base)
}

func signoffOptions(m release.SignoffMessage) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5, InitialInterval: time.Second},
		Summary:             fmt.Sprintf("slack: signoff %s/%s %s", m.Gate, m.Check, orPending(m.Result)),
	}
}

func orPending(result string) string {
	if result == "" {
		return "pending"
	}
	return result
}
