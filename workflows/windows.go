package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// How a window's clock counts (the same on every path):
//   - A window opens when its stage's work is done (traffic moved, contracts deployed) and ends
//     at a fixed deadline, StartedAt + max(policy duration, seed floor). The deadline is a
//     durable timer: worker or server restarts neither stop nor restart it.
//   - Pause, resume and recheck do not move the deadline; they only hold promotion. A release
//     paused past its deadline promotes when resumed, if nothing else blocks it.
//   - An open critical/high issue never extends the soak; it blocks promotion until resolved.
//   - When a production policy sets a window below the seed's floor, the floor applies unless
//     two release managers break glass for that window with a reason.
//   - Break glass (two distinct release managers) ends the named window at once; for a window
//     not yet open, it ends the moment it opens.

// plannedWindow is a policy window of stage, pending until its stage's work is done.
func (w *rel) plannedWindow(name string, stage release.Stage, d release.Duration) release.WindowStatus {
	ws := release.WindowStatus{Name: name, Stage: stage, State: release.WindowPending, Policy: d.String()}
	if floor, ok := w.belowFloor[name]; ok {
		ws.Floor = release.Duration(floor).String()
		ws.Note = fmt.Sprintf("policy %s is below the floor %s: the floor applies unless two release managers break glass", d, ws.Floor)
	}
	return ws
}

func (w *rel) window(name string) *release.WindowStatus {
	for i := range w.st.Windows {
		if w.st.Windows[i].Name == name {
			return &w.st.Windows[i]
		}
	}
	return nil
}

func (w *rel) windowOver(name string) bool {
	ws := w.window(name)
	return ws != nil && (ws.State == release.WindowDone || ws.State == release.WindowBroken)
}

// openWindow starts the named window's durable timer; a coroutine marks it done at the deadline
// or when glass is broken for it.
func (w *rel) openWindow(ctx workflow.Context, name string) {
	ws := w.window(name)
	d, _ := release.ParseDuration(ws.Policy)
	length := d.D()
	if floor, ok := w.belowFloor[name]; ok && length < floor {
		length = floor
	}
	now := workflow.Now(ctx)
	ws.StartedAt, ws.EndsAt, ws.State = now, now.Add(length), release.WindowOpen
	w.notify(ctx, release.NoticeWindow, fmt.Sprintf("window %s opened: ends %s (%s)", name, ws.EndsAt.UTC().Format(time.RFC3339), length))
	w.publish(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		ok, _ := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
			Timeout:      length,
			TimerOptions: workflow.TimerOptions{Summary: fmt.Sprintf("%s: %s until %s", name, length, ws.EndsAt.UTC().Format(time.RFC3339))},
		}, func() bool { return w.glass[name] || w.stop != nil })
		if w.stop != nil && !w.glass[name] {
			return
		}
		ws := w.window(name)
		if ok && w.glass[name] {
			ws.State, ws.EndsAt = release.WindowBroken, workflow.Now(ctx)
			w.notify(ctx, release.NoticeWindow, fmt.Sprintf("window %s ended early: glass broken by two release managers", name))
		} else {
			ws.State = release.WindowDone
			w.notify(ctx, release.NoticeWindow, fmt.Sprintf("window %s is over", name))
		}
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"window": name, "outcome": string(ws.State)}).
			Timer("shipgate_window_duration").Record(workflow.Now(ctx).Sub(ws.StartedAt))
		w.publish(ctx)
	})
}
