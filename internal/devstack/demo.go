package devstack

import (
	"context"
	"fmt"
	"io"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack/people"
	"github.com/shipgate/shipgate/internal/release"
)

// Release is a release the stack's people drive: its input, the policy the worker hands it
// (the same file, keys enrolled) and the people's keys.
type Release struct {
	In     release.Input
	Policy *release.Policy
	Keys   *people.Keyring
}

// Start starts the release, signed by starter (a release manager of its policy), and waits
// until the workflow has admitted it.
func (r Release) Start(ctx context.Context, c client.Client, starter string, conflict enumspb.WorkflowIdConflictPolicy) error {
	key, err := r.Keys.Signer(starter)
	if err != nil {
		return err
	}
	run, err := control.Start(ctx, c, key, starter, r.In, conflict)
	if err != nil {
		return err
	}
	return control.Admitted(ctx, c, run)
}

// Send signs a command with its actor's key and returns the workflow's verdict.
func (r Release) Send(ctx context.Context, c client.Client, signal string, cmd release.Command) (release.AuditEntry, error) {
	key, err := r.Keys.Signer(cmd.Actor)
	if err != nil {
		return release.AuditEntry{}, err
	}
	return control.Send(ctx, c, key, r.In.Manifest.ID(), signal, cmd)
}

// Approvers sign off like people do: through the CLI's signed approve, as policy members who
// are not the author and have not approved yet. It returns what it sent, for the progress log.
func Approvers(ctx context.Context, c client.Client, r Release, st release.Status, sent map[string]bool) ([]string, error) {
	in, pol := r.In, r.Policy
	var did []string
	for _, g := range st.Gates {
		if g.State == release.GatePending || g.State == release.GatePassed {
			continue
		}
		for _, ch := range g.Checks {
			if ch.Kind != release.KindSignoff || ch.State != release.CheckPending {
				continue
			}
			_, pc := pol.FindCheck(ch.Name)
			for _, m := range pol.Groups[pc.Group].Members {
				key := ch.Name + "/" + m.ID
				if m.ID == in.Manifest.Author || sent[key] {
					continue
				}
				if countSent(sent, ch.Name, pol.Groups[pc.Group].Members) >= ch.Needed {
					break
				}
				cmd := release.Command{Actor: m.ID, Channel: release.ChannelCLI, Check: ch.Name, Comment: "demo approver"}
				if _, err := r.Send(ctx, c, release.SignalApprove, cmd); err != nil {
					return did, err
				}
				sent[key] = true
				did = append(did, fmt.Sprintf("%s approves %s (%s)", m.ID, ch.Name, g.ID))
			}
		}
	}
	return did, nil
}

func countSent(sent map[string]bool, check string, members []release.Member) int {
	n := 0
	for _, m := range members {
		if sent[check+"/"+m.ID] {
			n++
		}
	}
	return n
}

// Progress prints what changed between two statuses: stages, gates, checks, windows, traffic.
func Progress(w io.Writer, prev, cur release.Status) {
	ts := time.Now().Format("15:04:05")
	if prev.Stage != cur.Stage {
		fmt.Fprintf(w, "%s ▶ stage %s\n", ts, cur.Stage)
	}
	if prev.State != cur.State {
		fmt.Fprintf(w, "%s   state %s %s\n", ts, cur.State, cur.Reason)
	}
	for _, d := range cur.Contracts[min(len(prev.Contracts), len(cur.Contracts)):] {
		fmt.Fprintf(w, "%s   contract %s %s on %s: %s %s, tx %s, block %d, %d confirmations, code %s", ts, d.Op, d.Contract, d.Chain, d.Kind, d.Address, d.TxHash, d.Block, d.Confirmations, d.CodeHash)
		if d.Implementation != "" {
			fmt.Fprintf(w, ", implementation %s", d.Implementation)
		}
		fmt.Fprintln(w)
	}
	for i, g := range cur.Gates {
		var pg release.GateStatus
		if i < len(prev.Gates) {
			pg = prev.Gates[i]
		}
		if pg.State != g.State {
			fmt.Fprintf(w, "%s   gate %s %s: %s\n", ts, g.ID, g.Name, g.State)
		}
		for j, c := range g.Checks {
			var pc release.CheckStatus
			if j < len(pg.Checks) {
				pc = pg.Checks[j]
			}
			if pc.State != c.State && c.State != release.CheckPending && c.State != release.CheckRunning && c.State != release.CheckSkipped {
				fmt.Fprintf(w, "%s     check %s: %s — %s\n", ts, c.Name, c.State, c.Detail)
			}
		}
	}
	governanceProgress(w, ts, prev, cur)
	for i, win := range cur.Windows {
		var pw release.WindowStatus
		if i < len(prev.Windows) {
			pw = prev.Windows[i]
		}
		if pw.State != win.State {
			switch win.State {
			case release.WindowOpen:
				// a window that ends on another day (the owners' 14 days) shows the date
				layout := "15:04:05"
				if time.Until(win.EndsAt) > 12*time.Hour {
					layout = "2006-01-02 15:04:05"
				}
				fmt.Fprintf(w, "%s   window %s open until %s\n", ts, win.Name, win.EndsAt.Local().Format(layout))
			default:
				fmt.Fprintf(w, "%s   window %s %s\n", ts, win.Name, win.State)
			}
		}
	}
	if prev.TrafficPercent != cur.TrafficPercent {
		fmt.Fprintf(w, "%s   traffic: %g %% of production on %s\n", ts, cur.TrafficPercent, cur.Version)
	}
}

// governanceProgress prints governed upgrades: a new proposal with everything its owners
// check (Safe, nonce, safeTxHash, target, operations, delay, decoded calldata), each change of
// phase, and a cancellation's proposal after an abort.
func governanceProgress(w io.Writer, ts string, prev, cur release.Status) {
	for i, u := range cur.Governance {
		var pu release.GovernedUpgrade
		if i < len(prev.Governance) {
			pu = prev.Governance[i]
		}
		what := fmt.Sprintf("governance %s on %s", u.Contract, u.Chain)
		if pu.SafeTxHash != u.SafeTxHash {
			fmt.Fprintf(w, "%s   %s: proposed as a Safe transaction; the owners check on their own devices:\n", ts, what)
			for _, l := range u.Summary {
				fmt.Fprintf(w, "%s       %s\n", ts, l)
			}
		}
		if pu.Phase != u.Phase {
			fmt.Fprintf(w, "%s   %s: %s%s\n", ts, what, u.Phase, phaseDetail(u))
		}
		if len(pu.Cancel) == 0 && len(u.Cancel) > 0 {
			fmt.Fprintf(w, "%s   %s: cancellation proposed through the same Safe:\n", ts, what)
			for _, l := range u.Cancel {
				fmt.Fprintf(w, "%s       %s\n", ts, l)
			}
		}
	}
}

func phaseDetail(u release.GovernedUpgrade) string {
	switch {
	case u.Stopped != "":
		return " — " + u.Stopped
	case u.Phase == release.GovApproved:
		return ": threshold met (" + u.Approvals + ")"
	case u.Phase == release.GovScheduled:
		return ": the Safe transaction executed; the upgrade and its revert are scheduled in the timelock, the upgrade executable after the delay"
	case u.Phase == release.GovUpgraded:
		return ": the timelock executed the upgrade; the prepared revert is ready now (a rollback executes it at once: no approval, no delay)"
	case u.Phase == release.GovReverted:
		return ": the rollback executed the prepared revert; the proxy runs its previous implementation"
	}
	return ""
}

// Approve is one round of demo approvers on a release's status; it returns what they did.
type Approve func(ctx context.Context, st release.Status) ([]string, error)

// Follow polls a release until it ends, printing progress and running the demo approvers
// (through the approve signal) when approve is set.
func Follow(ctx context.Context, c client.Client, r Release, out io.Writer, approve bool) (release.Status, error) {
	var fn Approve
	if approve {
		sent := map[string]bool{}
		fn = func(ctx context.Context, st release.Status) ([]string, error) { return Approvers(ctx, c, r, st, sent) }
	}
	return FollowWith(ctx, c, r.In.Manifest.ID(), out, fn)
}

// FollowWith is Follow with the approvers given (nil: none), e.g. SlackApprovers.Round.
func FollowWith(ctx context.Context, c client.Client, id string, out io.Writer, approve Approve) (release.Status, error) {
	var prev release.Status
	var lastErr string
	for {
		st, err := control.Status(ctx, c, id)
		if err != nil {
			// a query needs a worker: while it restarts, say so and keep following
			if ctx.Err() != nil {
				return prev, err
			}
			if msg := err.Error(); msg != lastErr {
				fmt.Fprintf(out, "%s     status unavailable: %s\n", time.Now().Format("15:04:05"), msg)
				lastErr = msg
			}
			time.Sleep(250 * time.Millisecond)
			continue
		}
		lastErr = ""
		Progress(out, prev, st)
		prev = st
		if st.State.Final() {
			return st, nil
		}
		if approve != nil {
			did, err := approve(ctx, st)
			if err != nil {
				return st, err
			}
			for _, d := range did {
				fmt.Fprintf(out, "%s     approver %s\n", time.Now().Format("15:04:05"), d)
			}
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
