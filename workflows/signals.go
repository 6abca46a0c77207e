package workflows

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// listen receives every signal for the life of the workflow and applies it to the status.
// Handlers only change state; the main flow and the gate coroutines react through Await.
func (w *rel) listen(ctx workflow.Context) {
	sel := workflow.NewSelector(ctx)
	for _, name := range release.Signals {
		sel.AddReceive(workflow.GetSignalChannel(ctx, name), func(c workflow.ReceiveChannel, _ bool) {
			var cmd release.Command
			c.Receive(ctx, &cmd)
			w.handle(ctx, name, cmd)
		})
	}
	for {
		sel.Select(ctx)
	}
}

// forgedAuditCap is how many unauthenticated commands a release writes to its audit log
// (and so to its history). Past it they are refused in the update validator, before they
// reach history, and only the worker log and shipgate_commands_refused_total see them: a
// stream of forgeries cannot grow a release's history without bound.
const forgedAuditCap = 20

// handle applies one command; every attempt, accepted or refused, lands in the audit log (an
// unauthenticated one only up to forgedAuditCap).
func (w *rel) handle(ctx workflow.Context, name string, cmd release.Command) release.AuditEntry {
	entry := release.AuditEntry{Actor: cmd.Actor, Channel: cmd.Channel, Action: name, Target: commandTarget(name, cmd)}
	if w.signed {
		who, aerr := w.authenticate(ctx, name, cmd)
		if aerr != nil {
			return w.refuseUnauthenticated(ctx, name, cmd, entry, aerr)
		}
		w.remember(ctx, cmd)
		// From here on the actor is the member the signature proved, never an alias.
		cmd.Actor, entry.Actor = who.ID, who.ID
	}
	reason, ok := w.apply(ctx, name, cmd)
	entry.Accepted, entry.Reason = ok, reason
	w.observeCommand(ctx, name, cmd, ok)
	if gi, ci := w.findCheck(cmd.Check); ok && w.signed && gi >= 0 && (name == release.SignalApprove || name == release.SignalClearRejection) {
		entry.Detail = w.st.Gates[gi].Checks[ci].Detail
	}
	if !ok && w.signed {
		w.countRefusal(ctx, name, cmd.Actor, release.RefusedDenied, reason)
	}
	w.audit(ctx, entry)
	w.publish(ctx)
	return w.st.Audit[len(w.st.Audit)-1]
}

// observeCommand records how long a signed command took from its signing to its verdict
// (shipgate_command_latency_seconds{action,channel,accepted}): the person's wait, across the
// CLI or Slack, Temporal and the workflow task. A metric only: no command, no history.
func (w *rel) observeCommand(ctx workflow.Context, name string, cmd release.Command, accepted bool) {
	if cmd.IssuedAt.IsZero() {
		return
	}
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"action": name, "channel": cmd.Channel, "accepted": strconv.FormatBool(accepted)}).
		Timer("shipgate_command_latency").Record(max(0, workflow.Now(ctx).Sub(cmd.IssuedAt))) // a skewed clock is no wait
}

// authenticate proves who sent the command (release.Policy.Authenticate) and that it was not
// accepted before. It changes nothing: the update validator calls it too.
func (w *rel) authenticate(ctx workflow.Context, name string, cmd release.Command) (release.Member, *release.AuthError) {
	if w.pol == nil {
		return release.Member{}, &release.AuthError{Reason: release.RefusedDenied, Detail: "the release has not started yet"}
	}
	info := workflow.GetInfo(ctx)
	who, aerr := w.pol.Authenticate(name, cmd, release.Binding{Release: w.st.ID, Run: info.WorkflowExecution.RunID}, workflow.Now(ctx))
	if aerr != nil {
		return release.Member{}, aerr
	}
	if _, seen := w.nonces[cmd.Nonce]; seen {
		return release.Member{}, &release.AuthError{Reason: release.RefusedReplayed, Detail: "this command was already received (replayed nonce)"}
	}
	return who, nil
}

// remember keeps an accepted command's nonce for as long as the command could be valid, and
// forgets the nonces of commands that have expired since.
func (w *rel) remember(ctx workflow.Context, cmd release.Command) {
	now := workflow.Now(ctx)
	for n, at := range w.nonces { // deleting in any order leaves the same set
		if now.Sub(at) > release.CommandMaxAge {
			delete(w.nonces, n)
		}
	}
	w.nonces[cmd.Nonce] = cmd.IssuedAt
}

// refuseUnauthenticated audits a command whose sender is not proven, under the claimed name,
// while the release has audited fewer than forgedAuditCap of them.
func (w *rel) refuseUnauthenticated(ctx workflow.Context, name string, cmd release.Command, entry release.AuditEntry, aerr *release.AuthError) release.AuditEntry {
	w.countRefusal(ctx, name, cmd.Actor, aerr.Reason, aerr.Detail)
	entry.Actor = "unproven:" + clip(cmd.Actor)
	entry.Target = clip(entry.Target)
	entry.Reason, entry.At = aerr.Error(), workflow.Now(ctx)
	if w.forged >= forgedAuditCap {
		return entry
	}
	w.forged++
	if w.forged == forgedAuditCap {
		entry.Reason += fmt.Sprintf(" (the %dth unauthenticated command: later ones are refused before they reach the release's history; see the worker log and shipgate_commands_refused_total)", forgedAuditCap)
	}
	w.audit(ctx, entry)
	w.publish(ctx)
	return entry
}

// clip keeps what a forged command claims short in the audit log and the worker log.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// countRefusal makes a refused command visible outside the release: the worker log and
// shipgate_commands_refused_total{reason}.
func (w *rel) countRefusal(ctx workflow.Context, action, actor, reason, detail string) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"reason": reason}).Counter("shipgate_commands_refused_total").Inc(1)
	workflow.GetLogger(ctx).Warn("command refused", "release", w.st.ID, "action", clip(action), "claimedActor", clip(actor), "reason", reason, "detail", detail)
}

// setDecideHandler lets a caller send any signal's command as an update and get the verdict
// back in the same call, instead of signalling and polling the status for it. An update that
// names no signal is rejected by the validator and leaves no trace in history, and so is an
// unauthenticated one once forgedAuditCap of them are in the audit log; every other attempt is
// audited exactly as the signal would be.
func (w *rel) setDecideHandler(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, release.UpdateDecide,
		func(ctx workflow.Context, d release.Decide) (release.AuditEntry, error) {
			return w.handle(ctx, d.Signal, d.Command), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, d release.Decide) error {
			if !slices.Contains(release.Signals, d.Signal) {
				return fmt.Errorf("unknown signal %q (want one of %s)", d.Signal, strings.Join(release.Signals, ", "))
			}
			// An oversized command never reaches history; past the audit cap, no forged one does.
			if w.signed && (w.forged >= forgedAuditCap || len(d.Command.Statement(d.Signal)) > release.MaxCommandBytes) {
				if _, aerr := w.authenticate(ctx, d.Signal, d.Command); aerr != nil {
					w.countRefusal(ctx, d.Signal, d.Command.Actor, aerr.Reason, aerr.Detail)
					return aerr
				}
			}
			return nil
		}})
}

// apply decides one command and applies it. Who may do what, the one table (every command
// is first authenticated, handle: its actor is a policy member proven by signature, on the CLI
// or Slack, and the release has not ended). RM: a member of roles.releaseManagers; operator:
// of a group in roles.operators; author: the manifest's author under any of their identities.
//
//	command          who                                     also needs                          where
//	approve          a member of the check's group, not the  the check applies, its gate is      approve, signoff
//	                 author                                  open, the evidence shown is current
//	reject           as approve                              a reason                            reject, signoff
//	clear-rejection  the member who rejected, or an RM; never a reason; the check stands rejected  clearRejection
//	                 the author
//	pause, resume    an RM or operator                       not paused (pause) / paused         apply
//	recheck          an RM, an operator or the author        a blocked gate; evidence only for   recheck
//	                                                         blocked gates' checks
//	abort, rollback  an RM or operator                       a reason; rollback: traffic moved,  requestStop,
//	                                                         --to: another version               pointAt
//	report-issue     any member                              a known severity and a title        reportIssue
//	resolve-issue    an RM or operator                       an open issue                       resolveIssue
//	break-glass      two distinct RMs, neither the author    a reason; a window not yet over     breakGlass
//	override         two distinct RMs, neither the author    a reason; the window holding now    override (promotion.go)
//
// Releases from before signed commands (!w.signed) took the claimed actor and let the author
// count toward break-glass; they replay as they ran. Start (admit), restore (RestoreWorkflow)
// and freeze (the line) are decided elsewhere; README's "Who may do what" shows people the
// whole table, and changes with this one.
func (w *rel) apply(ctx workflow.Context, name string, cmd release.Command) (string, bool) {
	if strings.TrimSpace(cmd.Actor) == "" {
		return "refused: no actor", false
	}
	if cmd.Channel != release.ChannelCLI && cmd.Channel != release.ChannelSlack {
		return fmt.Sprintf("refused: unknown channel %q", cmd.Channel), false
	}
	if w.base.Final() {
		return "refused: the release has ended (" + string(w.base) + ")", false
	}
	switch name {
	case release.SignalApprove:
		return w.approve(ctx, cmd)
	case release.SignalReject:
		return w.reject(cmd)
	case release.SignalPause:
		if r, ok := w.mayOperate(cmd.Actor); !ok {
			return r, false
		}
		if w.st.Paused {
			return "refused: already paused", false
		}
		w.st.Paused = true
		return cmd.Reason, true
	case release.SignalResume:
		if r, ok := w.mayOperate(cmd.Actor); !ok {
			return r, false
		}
		if !w.st.Paused {
			return "refused: not paused", false
		}
		w.st.Paused = false
		w.acceptPausedAnalyses(cmd.Actor)
		return cmd.Reason, true
	case release.SignalRecheck:
		return w.recheck(cmd)
	case release.SignalAbort, release.SignalRollback:
		return w.requestStop(ctx, name, cmd)
	case release.SignalReportIssue:
		return w.reportIssue(ctx, cmd)
	case release.SignalResolveIssue:
		return w.resolveIssue(ctx, cmd)
	case release.SignalBreakGlass:
		return w.breakGlass(ctx, cmd)
	case release.SignalClearRejection:
		return w.clearRejection(ctx, cmd)
	case release.SignalOverride:
		return w.override(ctx, cmd)
	case release.SignalSafeSign:
		return w.safeSign(ctx, cmd)
	}
	return "refused: unknown signal " + name, false
}

func commandTarget(name string, cmd release.Command) string {
	switch name {
	case release.SignalApprove, release.SignalReject, release.SignalClearRejection:
		return cmd.Check
	case release.SignalRecheck:
		return cmd.Gate
	case release.SignalBreakGlass, release.SignalOverride:
		return cmd.Window
	case release.SignalReportIssue:
		return cmd.Severity + ": " + cmd.Title
	case release.SignalResolveIssue:
		return fmt.Sprintf("#%d", cmd.Issue)
	case release.SignalRollback:
		if cmd.To != "" {
			return "to " + clip(cmd.To)
		}
	}
	return ""
}

// signoff finds a signoff check the actor may decide on now, or says why not.
func (w *rel) signoff(cmd release.Command) (gi, ci int, reason string) {
	for gi := range w.pol.Gates {
		g := w.pol.Gates[gi]
		for ci := range g.Checks {
			if g.Checks[ci].Name != cmd.Check {
				continue
			}
			c, gs, cs := &g.Checks[ci], &w.st.Gates[gi], &w.st.Gates[gi].Checks[ci]
			switch {
			case c.Kind != release.KindSignoff:
				return 0, 0, fmt.Sprintf("refused: %s is an automated %s check: it decides on evidence, use recheck", c.Name, c.Kind)
			case cs.State == release.CheckSkipped:
				return 0, 0, fmt.Sprintf("refused: %s does not apply to this change", c.Name)
			case gs.State == release.GatePending:
				return 0, 0, fmt.Sprintf("refused: wrong stage: gate %s opens when the release reaches the stage before %s (now %s)", g.ID, g.Before, w.st.Stage)
			case gs.State == release.GatePassed:
				return 0, 0, fmt.Sprintf("refused: gate %s has already passed", g.ID)
			case !w.pol.InGroup(c.Group, cmd.Actor):
				return 0, 0, fmt.Sprintf("refused: %s is not a member of group %s", cmd.Actor, c.Group)
			case w.isAuthor(cmd.Actor):
				return 0, 0, fmt.Sprintf("refused: %s is the author of the release and may not sign off on it", cmd.Actor)
			case cmd.Fingerprint != "" && cmd.Fingerprint != w.fingerprint(gi, c.Name):
				return 0, 0, "refused: the evidence changed since this was shown (recheck); look again"
			}
			return gi, ci, ""
		}
	}
	return 0, 0, fmt.Sprintf("refused: unknown check %q", cmd.Check)
}

func (w *rel) approve(ctx workflow.Context, cmd release.Command) (string, bool) {
	gi, ci, reason := w.signoff(cmd)
	if reason != "" {
		return reason, false
	}
	cs := &w.st.Gates[gi].Checks[ci]
	who, _ := w.pol.Resolve(cmd.Actor)
	for _, a := range cs.Approvals {
		if a.Actor == who.ID {
			return fmt.Sprintf("refused: %s already approved %s", who.ID, cs.Name), false
		}
	}
	if cs.State == release.CheckPassed {
		return fmt.Sprintf("refused: %s already has its %d approvals", cs.Name, cs.Needed), false
	}
	if w.signed && cs.State == release.CheckRejected {
		return fmt.Sprintf("refused: %s stands rejected by %s: the rejection must be cleared first (clear-rejection)", cs.Name, cs.RejectedBy), false
	}
	cs.Approvals = append(cs.Approvals, release.Approval{Actor: who.ID, Channel: cmd.Channel, At: workflow.Now(ctx), Comment: cmd.Comment})
	if len(cs.Approvals) >= cs.Needed && cs.State != release.CheckRejected {
		cs.State = release.CheckPassed
	}
	cs.Detail = fmt.Sprintf("%d of %d approvals", len(cs.Approvals), cs.Needed)
	w.updateGate(ctx, gi)
	return cmd.Comment, true
}

func (w *rel) reject(cmd release.Command) (string, bool) {
	if strings.TrimSpace(cmd.Reason) == "" {
		return "refused: a rejection needs a reason", false
	}
	gi, ci, reason := w.signoff(cmd)
	if reason != "" {
		return reason, false
	}
	cs := &w.st.Gates[gi].Checks[ci]
	who, _ := w.pol.Resolve(cmd.Actor)
	cs.State, cs.Detail = release.CheckRejected, fmt.Sprintf("rejected by %s: %s", who.ID, cmd.Reason)
	if w.signed {
		cs.RejectedBy = who.ID
	}
	w.st.Gates[gi].State = release.GateBlocked
	return cmd.Reason, true
}

// clearRejection lifts a standing rejection of a signoff check: the person who rejected may
// withdraw it, and a release manager who is not the author may overrule it, with a reason.
// The author never can, under any identity. The check then counts its approvals again.
func (w *rel) clearRejection(ctx workflow.Context, cmd release.Command) (string, bool) {
	if strings.TrimSpace(cmd.Reason) == "" {
		return "refused: clearing a rejection needs a reason", false
	}
	gi, ci := w.findCheck(cmd.Check)
	if gi < 0 {
		return fmt.Sprintf("refused: unknown check %q", cmd.Check), false
	}
	cs := &w.st.Gates[gi].Checks[ci]
	switch {
	case cs.State != release.CheckRejected:
		return fmt.Sprintf("refused: %s is not rejected", cs.Name), false
	case w.isAuthor(cmd.Actor):
		return fmt.Sprintf("refused: %s is the author of the release and may not clear a rejection", cmd.Actor), false
	case cmd.Actor != cs.RejectedBy && !w.pol.InGroup(w.pol.Roles.ReleaseManagers, cmd.Actor):
		return fmt.Sprintf("refused: only %s, who rejected %s, or a release manager may clear the rejection", cs.RejectedBy, cs.Name), false
	}
	cs.State, cs.RejectedBy = release.CheckPending, ""
	cs.Detail = fmt.Sprintf("rejection cleared by %s: %s; %d of %d approvals", cmd.Actor, cmd.Reason, len(cs.Approvals), cs.Needed)
	if len(cs.Approvals) >= cs.Needed {
		cs.State = release.CheckPassed
	}
	w.st.Gates[gi].State = release.GateRunning // updateGate derives it again from the checks
	w.updateGate(ctx, gi)
	return cmd.Reason, true
}

// findCheck returns the gate and check index of the named check in the status, or -1.
func (w *rel) findCheck(name string) (int, int) {
	for gi := range w.st.Gates {
		for ci := range w.st.Gates[gi].Checks {
			if w.st.Gates[gi].Checks[ci].Name == name {
				return gi, ci
			}
		}
	}
	return -1, -1
}

// recheck re-runs the automated checks of blocked gates (new evidence). It never clears a
// human rejection (clear-rejection does), so the author may ask for it.
func (w *rel) recheck(cmd release.Command) (string, bool) {
	if r, ok := w.mayOperate(cmd.Actor); !ok && !w.isAuthor(cmd.Actor) {
		return r, false
	}
	var hit []string
	blocked := map[string]bool{}
	for _, gs := range w.st.Gates {
		if gs.State == release.GateBlocked && (cmd.Gate == "" || cmd.Gate == gs.ID) {
			blocked[gs.ID] = true
			hit = append(hit, gs.ID)
		}
	}
	if len(hit) == 0 {
		if cmd.Gate != "" {
			return fmt.Sprintf("refused: gate %q is not blocked", cmd.Gate), false
		}
		return "refused: no gate is blocked", false
	}
	if r, ok := w.takeEvidence(cmd.Evidence, blocked); !ok {
		return r, false
	}
	for _, id := range hit {
		w.rechecks[id]++
	}
	reason := "rechecking " + strings.Join(hit, ", ")
	if len(cmd.Evidence) > 0 {
		reason += " with new evidence for " + strings.Join(sortedChecks(cmd.Evidence), ", ")
	}
	return reason, true
}

func (w *rel) requestStop(ctx workflow.Context, name string, cmd release.Command) (string, bool) {
	if r, ok := w.mayOperate(cmd.Actor); !ok {
		return r, false
	}
	if strings.TrimSpace(cmd.Reason) == "" {
		return "refused: " + name + " needs a reason", false
	}
	if cmd.To != "" {
		if r, ok := w.pointAt(ctx, name, cmd); !ok {
			return r, false
		}
	}
	if w.wayOut && w.goingBack {
		return w.retryWayBack(cmd)
	}
	if w.stop != nil {
		return "refused: already stopping (" + w.stop.Action + ")", false
	}
	if name == release.SignalRollback && !w.st.Stage.TrafficMoves() {
		return fmt.Sprintf("refused: nothing to roll back in %s (no production traffic has moved); use abort", w.st.Stage), false
	}
	w.stop = &release.AuditEntry{Actor: cmd.Actor, Channel: cmd.Channel, Action: name, Reason: cmd.Reason, At: workflow.Now(ctx)}
	return cmd.Reason, true
}

func (w *rel) reportIssue(ctx workflow.Context, cmd release.Command) (string, bool) {
	if !slices.Contains(release.Severities, cmd.Severity) {
		return fmt.Sprintf("refused: severity %q (want critical, high, medium or low)", cmd.Severity), false
	}
	if strings.TrimSpace(cmd.Title) == "" {
		return "refused: an issue needs a title", false
	}
	is := release.Issue{N: len(w.st.Issues) + 1, Severity: cmd.Severity, Title: cmd.Title, ReportedBy: cmd.Actor, ReportedAt: workflow.Now(ctx)}
	w.st.Issues = append(w.st.Issues, is)
	msg := fmt.Sprintf("issue #%d (%s) reported by %s: %s", is.N, is.Severity, is.ReportedBy, is.Title)
	effect := w.issueEffect(is, w.st.Stage)
	if effect.says != "" {
		msg += " — " + effect.says
	}
	if effect.rollback && w.stop == nil {
		w.stop = &release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: release.SignalRollback, Accepted: true,
			Reason: fmt.Sprintf("open critical issue #%d reported by %s: %s", is.N, is.ReportedBy, is.Title), At: workflow.Now(ctx)}
		w.audit(ctx, *w.stop)
	}
	w.notifyAsync(ctx, release.NoticeIssue, msg)
	if !w.wayOut {
		return fmt.Sprintf("issue #%d", is.N), true
	}
	return fmt.Sprintf("issue #%d: %s", is.N, effect.says), true
}

func (w *rel) resolveIssue(ctx workflow.Context, cmd release.Command) (string, bool) {
	if r, ok := w.mayOperate(cmd.Actor); !ok {
		return r, false
	}
	if cmd.Issue < 1 || cmd.Issue > len(w.st.Issues) {
		return fmt.Sprintf("refused: no issue #%d", cmd.Issue), false
	}
	is := &w.st.Issues[cmd.Issue-1]
	if is.ResolvedAt != nil {
		return fmt.Sprintf("refused: issue #%d is already resolved", is.N), false
	}
	now := workflow.Now(ctx)
	is.ResolvedAt, is.ResolvedBy = &now, cmd.Actor
	w.notifyAsync(ctx, release.NoticeIssue, fmt.Sprintf("issue #%d resolved by %s", is.N, cmd.Actor))
	return cmd.Reason, true
}

// breakGlass records one release manager's request to end a window now; the second distinct
// release manager makes it take effect.
func (w *rel) breakGlass(ctx workflow.Context, cmd release.Command) (string, bool) {
	if !w.pol.InGroup(w.pol.Roles.ReleaseManagers, cmd.Actor) {
		return fmt.Sprintf("refused: only release managers (group %s) may break glass", w.pol.Roles.ReleaseManagers), false
	}
	if w.signed && w.isAuthor(cmd.Actor) {
		return fmt.Sprintf("refused: %s is the author of the release and never counts toward break-glass", cmd.Actor), false
	}
	if strings.TrimSpace(cmd.Reason) == "" {
		return "refused: break-glass needs a reason", false
	}
	ws := w.window(cmd.Window)
	if ws == nil {
		var names []string
		for _, x := range w.st.Windows {
			names = append(names, x.Name)
		}
		return fmt.Sprintf("refused: unknown window %q (windows: %s)", cmd.Window, strings.Join(names, ", ")), false
	}
	if w.windowOver(cmd.Window) {
		return fmt.Sprintf("refused: window %s is already over", cmd.Window), false
	}
	who, _ := w.pol.Resolve(cmd.Actor)
	var others []string
	for _, b := range w.st.BreakGlass {
		if b.Window == cmd.Window {
			if b.Actor == who.ID {
				return fmt.Sprintf("refused: %s already asked to break glass for %s; a second release manager must agree", who.ID, cmd.Window), false
			}
			others = append(others, b.Actor)
		}
	}
	w.st.BreakGlass = append(w.st.BreakGlass, release.BreakGlassRec{Window: cmd.Window, Actor: who.ID, Reason: cmd.Reason, At: workflow.Now(ctx)})
	if len(others) == 0 {
		return cmd.Reason + " (1 of 2 release managers)", true
	}
	w.glass[cmd.Window] = true
	ws.Note = fmt.Sprintf("glass broken by %s and %s", others[0], who.ID)
	return cmd.Reason + " (2 of 2: window " + cmd.Window + " ends now)", true
}

// mayOperate says whether the actor is a release manager or an operator.
func (w *rel) mayOperate(actor string) (string, bool) {
	p := w.pol
	if p.InGroup(p.Roles.ReleaseManagers, actor) {
		return "", true
	}
	for _, g := range p.Roles.Operators {
		if p.InGroup(g, actor) {
			return "", true
		}
	}
	return fmt.Sprintf("refused: %s is not a release manager or operator", actor), false
}

// isAuthor matches the actor against the manifest's author by any of the member's identities.
func (w *rel) isAuthor(actor string) bool { return w.pol.SamePerson(w.in.Manifest.Author, actor) }
