package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// laneHistoryMax is the history length at which a lane continues as new: a lane lives as long
// as its service, each entry or departure costing about ten events.
const laneHistoryMax = 2000

// lane is one service's production lane (release.LaneState): who holds production, who waits,
// what is live. Its handlers take turns (mu): each verifies what it is told with the server
// before it changes anything.
type lane struct {
	st release.LaneState
	mu workflow.Mutex
}

// ServiceLaneWorkflow keeps a service's production lane for as long as the service ships.
// Releases reach it only through their activities (LaneEnter, LaneLeave), which start it on
// first use.
func ServiceLaneWorkflow(ctx workflow.Context, st release.LaneState) error {
	l := &lane{st: st, mu: workflow.NewMutex(ctx)}
	if err := workflow.SetQueryHandler(ctx, release.QueryLane, func() (release.LaneState, error) { return l.st, nil }); err != nil {
		return err
	}
	valid := func(_ workflow.Context, e release.LaneEntry) error {
		if e.Run == "" || e.Release != release.WorkflowID(l.st.Service, e.Version) {
			return fmt.Errorf("a lane entry names a release of %s by its id, version and run", l.st.Service)
		}
		return nil
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, release.UpdateLaneEnter, l.enter,
		workflow.UpdateHandlerOptions{Validator: valid}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, release.UpdateLaneLeave, l.leave,
		workflow.UpdateHandlerOptions{Validator: valid}); err != nil {
		return err
	}
	if err := workflow.Await(ctx, func() bool {
		info := workflow.GetInfo(ctx)
		return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > laneHistoryMax
	}); err != nil {
		return err
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	return workflow.NewContinueAsNewError(ctx, release.LaneWorkflowName, l.st)
}

// verify asks the server about a release execution (LaneVerify): never the caller's word.
func (l *lane) verify(ctx workflow.Context, e release.LaneEntry) (release.LaneVerification, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
		Summary:             "verify " + e.Release,
	})
	var v release.LaneVerification
	err := workflow.ExecuteActivity(actx, release.ActivityLaneVerify, e).Get(ctx, &v)
	return v, err
}

func same(a *release.LaneEntry, b release.LaneEntry) bool {
	return a != nil && a.Release == b.Release && a.Run == b.Run
}

// answer is what the lane tells e now.
func (l *lane) answer(e release.LaneEntry) release.LaneAnswer {
	if same(l.st.Holder, e) {
		return release.LaneAnswer{Granted: true, Live: l.st.Live, SupersededBy: l.st.Holder.SupersededBy}
	}
	a := release.LaneAnswer{Live: l.st.Live}
	if i := l.queued(e); i >= 0 {
		a.Position = i + 1
	}
	switch {
	case l.st.Holder != nil:
		a.Holder = l.st.Holder.Release
		if l.st.Holder.Ended != "" {
			a.Holder += " (" + l.st.Holder.Ended + ": shipgate restore " + l.st.Holder.Release + ")"
		}
	case len(l.st.Queue) > 0:
		a.Holder = l.st.Queue[0].Release
	}
	return a
}

func (l *lane) queued(e release.LaneEntry) int {
	return slices.IndexFunc(l.st.Queue, func(q release.LaneEntry) bool { return same(&q, e) })
}

// enter is a release asking for the lane before its canary. It gets the lane when nobody holds
// it and nobody was queued first, provided its previous version is what production serves;
// otherwise it queues, or, under rollout.concurrency supersede, asks the holder to go back.
func (l *lane) enter(ctx workflow.Context, e release.LaneEntry) (release.LaneAnswer, error) {
	if err := l.mu.Lock(ctx); err != nil {
		return release.LaneAnswer{}, err
	}
	defer l.mu.Unlock()
	if same(l.st.Holder, e) {
		return l.answer(e), nil
	}
	v, err := l.verify(ctx, e)
	if err != nil {
		return release.LaneAnswer{}, err
	}
	switch {
	case !v.Running:
		l.drop(e)
		return release.LaneAnswer{Refused: fmt.Sprintf("release %s (run %s) is not running", e.Release, e.Run)}, nil
	case !v.Matches(e): // a forgery: the release's own entry stands
		return release.LaneAnswer{Refused: fmt.Sprintf("release %s (run %s) did not ask for this: its status says %s from %s (%s)",
			e.Release, e.Run, v.Version, v.Previous, v.Mode)}, nil
	}
	if h := l.st.Holder; h != nil && h.Ended == "" {
		if hv, err := l.verify(ctx, *h); err == nil && !hv.Running {
			h.Ended = hv.Ended
		}
	}
	if l.st.Holder == nil && (len(l.st.Queue) == 0 || same(&l.st.Queue[0], e)) {
		l.drop(e)
		if l.st.Live != "" && e.Previous != l.st.Live {
			return release.LaneAnswer{Live: l.st.Live, Refused: fmt.Sprintf(
				"previousVersion %s is not what production serves: %s (left by %s); start a release from %s",
				e.Previous, l.st.Live, l.st.LiveBy, l.st.Live)}, nil
		}
		e.Since, e.SupersededBy, e.Ended = workflow.Now(ctx), "", ""
		l.st.Holder = &e
		if l.st.Live == "" {
			l.st.Live, l.st.LiveBy = e.Previous, e.Release+" (its previousVersion, the lane's first entry)"
		}
		return l.answer(e), nil
	}
	if l.queued(e) < 0 {
		e.Since = workflow.Now(ctx)
		l.st.Queue = append(l.st.Queue, e)
	}
	if h := l.st.Holder; e.Mode == release.LaneSupersede && h != nil && h.Ended == "" && h.SupersededBy == "" {
		i := l.queued(e)
		first := l.st.Queue[i] // a copy: slices.Delete clears the slot it frees
		l.st.Queue = append([]release.LaneEntry{first}, slices.Delete(l.st.Queue, i, i+1)...)
		h.SupersededBy = e.Release
		l.hint(ctx, *h)
	}
	return l.answer(e), nil
}

// leave is a release giving the lane up (it ended) or leaving the queue (it stopped while it
// waited). The holder is let go only once the server shows it ended and what it left live:
// its final status, or a restore of what a terminated release left.
func (l *lane) leave(ctx workflow.Context, e release.LaneEntry) (release.LaneAnswer, error) {
	if err := l.mu.Lock(ctx); err != nil {
		return release.LaneAnswer{}, err
	}
	defer l.mu.Unlock()
	if !same(l.st.Holder, e) {
		if l.drop(e) {
			l.hintAll(ctx)
		}
		return l.answer(e), nil
	}
	v, err := l.verify(ctx, e)
	if err != nil {
		return release.LaneAnswer{}, err
	}
	if v.Live == "" {
		a := l.answer(e)
		a.Refused = fmt.Sprintf("release %s still holds production (%s): it leaves the lane when it ends", e.Release, v.State)
		if !v.Running {
			a.Refused = fmt.Sprintf("release %s %s without returning its traffic: shipgate restore %s", e.Release, v.Ended, e.Release)
		}
		return a, nil
	}
	l.st.Live, l.st.LiveBy, l.st.Holder = v.Live, e.Release, nil
	l.hintAll(ctx)
	return release.LaneAnswer{Live: l.st.Live}, nil
}

// drop takes e out of the queue, reporting whether it was there.
func (l *lane) drop(e release.LaneEntry) bool {
	i := l.queued(e)
	if i >= 0 {
		l.st.Queue = slices.Delete(l.st.Queue, i, i+1)
	}
	return i >= 0
}

// hint tells a release the lane changed; it asks again. A release that ended is not told.
func (l *lane) hint(ctx workflow.Context, e release.LaneEntry) {
	_ = workflow.SignalExternalWorkflow(ctx, e.Release, e.Run, release.SignalLaneChanged, nil)
}

func (l *lane) hintAll(ctx workflow.Context) {
	for _, q := range l.st.Queue {
		l.hint(ctx, q)
	}
}

// laneRole is where a release stands in its lane.
type laneRole int

const (
	laneNone laneRole = iota
	laneQueued
	laneHolder
)

// laneCall runs one of the lane activities for this release.
func (w *rel) laneCall(ctx workflow.Context, activity, summary string) (release.LaneAnswer, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
		Summary:             summary,
	})
	mode := w.pol.Rollout.Concurrency
	if mode == "" {
		mode = release.LaneQueue
	}
	w.st.LaneMode = mode // the lane checks an entry against the release's own status
	run := w.laneRun
	if run == "" {
		run = workflow.GetInfo(ctx).WorkflowExecution.RunID
	}
	req := release.LaneRequest{Service: w.st.Service, Entry: release.LaneEntry{Release: w.st.ID, Run: run,
		Version: w.st.Version, Previous: w.st.Previous, Mode: mode}}
	var a release.LaneAnswer
	err := workflow.ExecuteActivity(actx, activity, req).Get(ctx, &a)
	return a, err
}

// enterLane holds the release until its service's production lane is its own: nobody else
// moves the service's canary or production traffic meanwhile. It queues behind the holder, or
// (rollout.concurrency supersede) makes the holder go back first; a stop while it waits ends
// the wait. It fails the release, before any traffic moves, when the manifest's
// previousVersion is not what production serves.
func (w *rel) enterLane(ctx workflow.Context) error {
	if !w.laneOn {
		return nil
	}
	for {
		seen := w.laneHints
		a, err := w.laneCall(ctx, release.ActivityLaneEnter, "production lane of "+w.st.Service)
		if err != nil {
			return fmt.Errorf("production lane of %s: %w", w.st.Service, err)
		}
		if a.Refused != "" {
			w.setLane(ctx, laneNone, "")
			return fmt.Errorf("production lane of %s: %s", w.st.Service, a.Refused)
		}
		if a.Granted {
			w.laneLive = a.Live
			w.setLane(ctx, laneHolder, "")
			w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "lane",
				Target: w.st.Service, Accepted: true, Reason: "holds the production lane; production serves " + a.Live})
			workflow.Go(ctx, w.watchLane)
			return nil
		}
		if w.lane != laneQueued {
			w.notify(ctx, release.NoticeStage, fmt.Sprintf("%s %s waits for the production lane: %s", w.st.Service, w.st.Version, a.Waiting(w.st.Service)))
		}
		w.setLane(ctx, laneQueued, a.Holder+fmt.Sprintf(" (queued %d)", a.Position))
		if err := workflow.Await(ctx, func() bool { return w.laneHints != seen || w.stop != nil }); err != nil {
			return err
		}
		if w.stop != nil {
			return nil
		}
	}
}

// setLane records where the release stands in its lane, for status, list and the UI.
func (w *rel) setLane(ctx workflow.Context, role laneRole, waitsFor string) {
	w.lane = role
	if waitsFor != "" {
		waitsFor = "waits for " + waitsFor
	}
	if w.st.Lane != waitsFor {
		w.st.Lane = waitsFor
		w.publish(ctx)
	}
}

// watchLane waits, while the release holds the lane, for a newer release to supersede it;
// the release then rolls back. A hint is only a hint: the lane's own answer decides.
func (w *rel) watchLane(ctx workflow.Context) {
	for {
		seen := w.laneHints
		if err := workflow.Await(ctx, func() bool { return w.laneHints != seen || w.base.Final() || w.stop != nil }); err != nil {
			return
		}
		if w.base.Final() || w.stop != nil {
			return
		}
		a, err := w.laneCall(ctx, release.ActivityLaneEnter, "production lane of "+w.st.Service)
		if err != nil || a.SupersededBy == "" || w.stop != nil {
			continue
		}
		w.stop = &release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: release.SignalRollback, Accepted: true,
			Reason: fmt.Sprintf("superseded by %s (rollout.concurrency: supersede)", a.SupersededBy), At: workflow.Now(ctx)}
		w.audit(ctx, *w.stop)
		w.publish(ctx)
		return
	}
}

// leaveLane gives the lane up when the release has ended (or leaves its queue), so the next
// release of the service may go; the lane itself checks that the release ended.
func (w *rel) leaveLane(ctx workflow.Context) {
	if w.lane == laneNone {
		return
	}
	if _, err := w.laneCall(ctx, release.ActivityLaneLeave, "leave the production lane of "+w.st.Service); err != nil {
		workflow.GetLogger(ctx).Error("production lane not left", "release", w.st.ID, "error", err)
		return
	}
	w.setLane(ctx, laneNone, "")
}

// listenLane counts the lane's hints (release.SignalLaneChanged).
func (w *rel) listenLane(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, release.SignalLaneChanged)
	for {
		ch.Receive(ctx, nil)
		w.laneHints++
	}
}

// rollbackTarget is the version the way back points production at: a version a person named
// (rollback --to), else what the lane said production served when the release took it, else
// the manifest's previous version.
func (w *rel) rollbackTarget() string {
	switch {
	case w.backTo != "":
		return w.backTo
	case w.laneLive != "":
		return w.laneLive
	}
	return w.in.Manifest.PreviousVersion
}
