package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

func (w *rel) audit(ctx workflow.Context, e release.AuditEntry) {
	if e.At.IsZero() {
		e.At = workflow.Now(ctx)
	}
	w.st.Audit = append(w.st.Audit, e)
}

func (w *rel) noticeCtx(ctx workflow.Context, kind string) (workflow.ActivityOptions, release.Notice) {
	o := workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
		Summary:             "notify: " + kind,
	}
	channel := w.in.Manifest.Channel
	if channel == "" {
		channel = w.pol.Channel
	}
	n := release.Notice{ReleaseID: w.st.ID, Channel: channel, Kind: kind, At: workflow.Now(ctx)}
	n.Key = fmt.Sprintf("%s/notice/%d", w.st.ID, len(w.st.Audit))
	return o, n
}

// notify tells the people following the release and waits for it; a failed notification is
// logged and never fails the release.
func (w *rel) notify(ctx workflow.Context, kind, text string) {
	o, n := w.noticeCtx(ctx, kind)
	n.Text = text
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "notify", Target: kind, Accepted: true, Reason: text})
	if err := quick(ctx, w.local, o, release.ActivityNotify, n).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("notification failed", "kind", kind, "error", err)
	}
}

// notifyAsync is notify for signal handlers, which must not block the other signals.
func (w *rel) notifyAsync(ctx workflow.Context, kind, text string) {
	o, n := w.noticeCtx(ctx, kind)
	n.Text = text
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "notify", Target: kind, Accepted: true, Reason: text})
	quick(ctx, w.local, o, release.ActivityNotify, n)
}

// details is the markdown checklist the Temporal UI shows as the workflow's current details.
func (w *rel) details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s %s → %s\n", w.st.Service, w.st.Version, w.st.Stage)
	fmt.Fprintf(&b, "**State:** %s", w.st.State)
	if w.st.Reason != "" {
		fmt.Fprintf(&b, " — %s", w.st.Reason)
	}
	fmt.Fprintf(&b, "  \n**Traffic:** %g %% on %s (rollback target %s)\n\n", w.st.TrafficPercent, w.st.Version, w.st.Previous)
	if len(w.st.WaitingFor) > 0 {
		b.WriteString("**Waiting for:**\n")
		for _, x := range w.st.WaitingFor {
			fmt.Fprintf(&b, "- %s\n", x)
		}
		b.WriteString("\n")
	}
	b.WriteString("### Gates\n")
	for _, g := range w.st.Gates {
		mark := " "
		if g.State == release.GatePassed {
			mark = "x"
		}
		fmt.Fprintf(&b, "- [%s] **%s %s** (before %s): %s\n", mark, g.ID, g.Name, g.Before, g.State)
		for _, c := range g.Checks {
			if c.State == release.CheckSkipped {
				continue
			}
			cm := " "
			if c.State == release.CheckPassed {
				cm = "x"
			}
			fmt.Fprintf(&b, "  - [%s] %s — %s", cm, c.Name, c.State)
			if c.Detail != "" {
				fmt.Fprintf(&b, ": %s", c.Detail)
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("### Windows\n")
	for _, win := range w.st.Windows {
		fmt.Fprintf(&b, "- %s: %s", win.Name, win.State)
		if !win.EndsAt.IsZero() {
			fmt.Fprintf(&b, ", ends %s", win.EndsAt.UTC().Format(time.RFC3339))
		}
		b.WriteString("\n")
	}
	if len(w.st.Contracts) > 0 {
		b.WriteString("### Contracts\n")
		for _, d := range w.st.Contracts {
			fmt.Fprintf(&b, "- %s %s on %s: %s `%s`, tx `%s`, block %d, %d confirmations", d.Op, d.Contract, d.Chain, d.Kind, d.Address, d.TxHash, d.Block, d.Confirmations)
			if d.Implementation != "" {
				fmt.Fprintf(&b, ", implementation `%s`", d.Implementation)
			}
			b.WriteString("\n")
		}
	}
	if len(w.st.Governance) > 0 {
		b.WriteString("### Governed upgrades\n")
		for _, g := range w.st.Governance {
			fmt.Fprintf(&b, "- %s on %s: %s", g.Contract, g.Chain, g.Phase)
			if g.Approvals != "" {
				fmt.Fprintf(&b, ", approvals %s", g.Approvals)
			}
			b.WriteString("\n")
			for _, l := range g.Summary {
				fmt.Fprintf(&b, "  - %s\n", l)
			}
		}
	}
	return b.String()
}
