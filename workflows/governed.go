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

// How long the owners may take to approve a proposal before the release fails as expired; the
// Safe transaction stays valid on chain, but the release does not wait forever with its
// testnet soak and canary going stale.
const governanceApprovalTimeout = 14 * 24 * time.Hour

// Governed windows in status, per contract.
func govApprovalWindow(contract string) string { return "governance " + contract + ": owner approvals" }
func govDelayWindow(contract string) string    { return "governance " + contract + ": timelock delay" }

// governedSwitch upgrades one proxy on a governed chain:
//  1. propose: one Safe transaction that schedules the upgrade and its revert (the revert has
//     the upgrade as predecessor: the rollback is ready the moment the upgrade lands, with no
//     fresh delay or approval round); its facts go to status, the audit log and a notice;
//  2. wait for the owners' approvals (approveHash on chain), one heartbeating watch activity,
//     a named window in status;
//  3. execute the Safe transaction (execTransaction) exactly once;
//  4. wait out the timelock's delay: a durable timer, a named window, then a watch until the
//     chain's clock agrees;
//  5. execute the upgrade operation exactly once; the proxy joins the switched ones, so a
//     rollback executes the prepared revert (revertProxies).
func (w *rel) governedSwitch(ctx workflow.Context, ch release.Chain, ct release.Contract, proxy, previous, impl string) error {
	if workflow.GetVersion(ctx, versionGoverned, workflow.DefaultVersion, 1) < 1 {
		return errors.New("governed upgrade in a history recorded before governed upgrades existed")
	}
	pctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5, InitialInterval: 2 * time.Second},
		Summary:             fmt.Sprintf("governance: propose the upgrade of %s on %s through Safe %s", ct.Name, ch.Name, ch.Governance.Safe),
	})
	var gp release.GovernanceProposal
	req := release.GovernanceProposeRequest{ReleaseID: w.st.ID, Chain: ch, Contract: ct, Proxy: proxy, Next: impl, Previous: previous}
	if err := workflow.ExecuteActivity(pctx, release.ActivityGovernancePropose, req).Get(ctx, &gp); err != nil {
		return fmt.Errorf("governed upgrade of %s on %s: propose: %w", ct.Name, ch.Name, err)
	}
	w.st.Governance = append(w.st.Governance, release.GovernedUpgrade{Contract: ct.Name, Chain: ch.Name, Phase: release.GovProposed,
		SafeTxHash: gp.SafeTxHash, SafeNonce: gp.SafeNonce, Summary: gp.Summary, Proposal: gp.Proposal})
	g := &w.st.Governance[len(w.st.Governance)-1]
	what := fmt.Sprintf("upgrade of %s on %s", ct.Name, ch.Name)
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-proposed", Target: what, Accepted: true,
		Reason: strings.Join(gp.Summary, "; "), Evidence: []string{"safeTxHash " + gp.SafeTxHash}})
	w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: Safe owners, approve the %s (approveHash of the safeTxHash from your own wallet; check every line on your device):\n%s",
		w.st.Service, w.st.Version, what, strings.Join(gp.Summary, "\n")))

	// 2. the owners, and 3. execTransaction: the Safe refusing the execution for too few
	// valid approvals sends the release back to the owners
	open := &govAwaiting{hash: gp.SafeTxHash, chain: ch, proposal: gp.Proposal}
	gi := len(w.st.Governance) - 1
	pr, err := w.awaitOwners(ctx, ch, ct, gp, open, gi, "")
	for round := 0; err == nil; round++ {
		var refused string
		if refused, err = w.execProposal(ctx, ch, ct, gp, open, pr, gi, round); err != nil || refused == "" {
			break
		}
		pr, err = w.awaitOwners(ctx, ch, ct, gp, open, gi, refused)
	}
	if err != nil {
		return err
	}
	g.Phase = release.GovScheduled

	// 4. the delay: a durable timer, then the chain's own clock
	now := workflow.Now(ctx)
	delay := time.Duration(gp.Delay) * time.Second
	w.st.Windows = append(w.st.Windows, release.WindowStatus{Name: govDelayWindow(ct.Name), Stage: w.st.Stage, StartedAt: now, EndsAt: now.Add(delay), State: release.WindowOpen,
		Policy: release.Duration(delay).String(), Note: "the timelock's minimum delay: anyone can see the upgrade coming"})
	w.publish(ctx)
	if _, err := w.untilStopped(ctx, func(ctx workflow.Context) (release.GovernanceProgress, error) {
		timer := workflow.NewTimerWithOptions(ctx, delay, workflow.TimerOptions{Summary: fmt.Sprintf("governance: timelock delay %s for the %s", delay, what)})
		return release.GovernanceProgress{}, timer.Get(ctx, nil)
	}); err != nil {
		w.window(govDelayWindow(ct.Name)).State = release.WindowDone
		if errors.Is(err, errStopped) && workflow.GetVersion(ctx, versionGovernedCancel, workflow.DefaultVersion, 1) >= 1 {
			w.cancelGoverned(ctx, ch, ct, gp, len(w.st.Governance)-1)
			return fmt.Errorf("governed %s: the timelock delay: %w", what, err)
		}
		w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: the %s stopped during the timelock delay: operations %s (upgrade) and %s (revert) stay scheduled in timelock %s; only the worker may execute them and it will not: Safe owners, cancel them through the Safe",
			w.st.Service, w.st.Version, what, opID(gp, "upgrade"), opID(gp, "revert"), ch.Governance.Timelock))
		return fmt.Errorf("governed %s: the timelock delay: %w", what, err)
	}
	if pr, err = w.governanceWatch(ctx, ch, gp, release.WatchReady, time.Hour, "governance: the timelock operation ready on chain for the "+what); err != nil {
		return fmt.Errorf("governed %s: the timelock delay: %w", what, err)
	}
	w.window(govDelayWindow(ct.Name)).State = release.WindowDone
	if pr.ReadyAt > 0 {
		g.ReadyAt = time.Unix(pr.ReadyAt, 0).UTC()
	}

	// 5. execute the upgrade; the prepared revert is the rollback
	sp := switchedProxy{Chain: ch, Contract: ct, Proxy: proxy, Previous: previous, Proposal: gp.Proposal}
	tx := release.ContractTx{Op: release.OpGovUpgrade, Contract: ct, Proxy: proxy, Implementation: impl, Proposal: gp.Proposal}
	if _, err := w.forwardTx(ctx, ch, tx, &sp); err != nil {
		return err
	}
	g.Phase = release.GovUpgraded
	w.ct.switched = append(w.ct.switched, sp)
	w.publish(ctx)
	return nil
}

// safePhaseReady is the watch's phase of a scheduled upgrade whose delay is over.
const safePhaseReady = "ready"

// executedElsewhere records that the Safe transaction executed without the worker.
func (w *rel) executedElsewhere(ctx workflow.Context, what string, gp release.GovernanceProposal) {
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-executed-by-owners", Target: what, Accepted: true,
		Reason: fmt.Sprintf("the Safe transaction (nonce %d) executed without the worker: its operations are scheduled", gp.SafeNonce), Evidence: []string{"safeTxHash " + gp.SafeTxHash}})
}

// awaitOwners is the owners' wait for the proposal's approvals: a named window in status and
// the watch (with the off-chain signatures handed in meanwhile). refused is the Safe's refusal
// that sends the release back here after an execution ("" the first time): the window opens
// again, with what remains of its time, and says why. An abort meanwhile takes the way out of
// a proposal not yet known to have executed (stoppedBeforeScheduled).
func (w *rel) awaitOwners(ctx workflow.Context, ch release.Chain, ct release.Contract, gp release.GovernanceProposal, open *govAwaiting, gi int, refused string) (release.GovernanceProgress, error) {
	g := &w.st.Governance[gi]
	what := fmt.Sprintf("upgrade of %s on %s", ct.Name, ch.Name)
	now := workflow.Now(ctx)
	timeout := governanceApprovalTimeout
	if refused == "" {
		w.st.Windows = append(w.st.Windows, release.WindowStatus{Name: govApprovalWindow(ct.Name), Stage: w.st.Stage, StartedAt: now, EndsAt: now.Add(governanceApprovalTimeout),
			State: release.WindowOpen, Policy: release.Duration(governanceApprovalTimeout).String(),
			Note: fmt.Sprintf("until %d of the Safe's owners approve safeTxHash %s", ch.Governance.Threshold, gp.SafeTxHash)})
	} else {
		win := w.window(govApprovalWindow(ct.Name))
		win.State, win.Note = release.WindowOpen, fmt.Sprintf("again, until the approvals of current owners meet the Safe's threshold for safeTxHash %s: %s", gp.SafeTxHash, refused)
		timeout = max(win.EndsAt.Sub(now), time.Second)
	}
	w.publish(ctx)
	w.govOpen = append(w.govOpen, open)
	pr, err := w.untilStopped(ctx, func(ctx workflow.Context) (release.GovernanceProgress, error) {
		return w.watchApprovals(ctx, ch, gp, open, timeout,
			fmt.Sprintf("governance: awaiting %d owner approvals of safeTxHash %s (Safe nonce %d)", ch.Governance.Threshold, gp.SafeTxHash, gp.SafeNonce))
	})
	w.govOpen = slices.DeleteFunc(w.govOpen, func(a *govAwaiting) bool { return a == open })
	if err != nil {
		if errors.Is(err, errStopped) && workflow.GetVersion(ctx, versionGovernedAbortRace, workflow.DefaultVersion, 1) >= 1 {
			w.window(govApprovalWindow(ct.Name)).State = release.WindowDone
			w.stoppedBeforeScheduled(ctx, ch, ct, gp, gi)
			return pr, fmt.Errorf("governed %s: the owners' approval: %w", what, err)
		}
		g.Phase = release.GovRejected
		if errors.Is(err, errStopped) {
			g.Phase = release.GovWithdrawn
			w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: the %s is withdrawn (release stopped): Safe owners, do not approve safeTxHash %s; nothing was scheduled", w.st.Service, w.st.Version, what, gp.SafeTxHash))
		}
		w.window(govApprovalWindow(ct.Name)).State = release.WindowDone
		return pr, fmt.Errorf("governed %s: the owners' approval: %w", what, err)
	}
	w.window(govApprovalWindow(ct.Name)).State = release.WindowDone
	g.Phase, g.Approvals = release.GovApproved, fmt.Sprintf("%d of %d: %s", len(pr.Approved), pr.Threshold, strings.Join(pr.Approved, ", "))
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-approved", Target: what, Accepted: true, Reason: g.Approvals})
	return pr, nil
}

// execProposal executes the approved Safe transaction (execTransaction: it schedules the
// upgrade and the revert), round 0 first. The owners may have executed it themselves (anyone
// may once the threshold is met), before or while the worker tries. The Safe refusing the
// execution for too few valid approvals returns the refusal (the caller waits for the owners
// again); any other refusal fails the upgrade. A refused execution is never settled by the way
// out: it was never signed, or it is mined (reverted), and the Safe's nonce keeps the Safe
// transaction from executing twice.
func (w *rel) execProposal(ctx workflow.Context, ch release.Chain, ct release.Contract, gp release.GovernanceProposal, open *govAwaiting, pr release.GovernanceProgress, gi, round int) (string, error) {
	what := fmt.Sprintf("upgrade of %s on %s", ct.Name, ch.Name)
	if (pr.Phase == release.GovScheduled || pr.Phase == safePhaseReady) && workflow.GetVersion(ctx, versionGovernedOwnersExecuted, workflow.DefaultVersion, 1) >= 1 {
		w.executedElsewhere(ctx, what, gp)
		return "", nil
	}
	_, err := w.forwardTx(ctx, ch, release.ContractTx{Op: release.OpGovExecSafe, Contract: ct, Proposal: gp.Proposal, Signatures: open.sigs, Round: round}, nil)
	if err == nil {
		return "", nil
	}
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		return "", err
	}
	switch app.Type() {
	case release.ErrTypeGovExecutedElsewhere:
		if workflow.GetVersion(ctx, versionGovernedOwnersExecuted, workflow.DefaultVersion, 1) < 1 {
			return "", err
		}
		w.ct.underWay = nil // nothing of the worker's to settle: the step will never be signed
		w.executedElsewhere(ctx, what, gp)
		return "", nil
	case release.ErrTypeGovNotApproved, release.ErrTypeGovRejected, release.ErrTypeGovExecRefused:
		if workflow.GetVersion(ctx, versionGovernedExecRefused, workflow.DefaultVersion, 1) < 1 {
			return "", err
		}
	default:
		return "", err
	}
	w.ct.underWay = nil // never signed, or mined and reverted: nothing to settle
	g := &w.st.Governance[gi]
	g.Refused = app.Message()
	if app.Type() != release.ErrTypeGovNotApproved {
		g.Phase = release.GovRejected
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-exec-refused", Target: what, Accepted: false,
			Reason: app.Message(), Evidence: []string{"safeTxHash " + gp.SafeTxHash}})
		return "", err
	}
	g.Phase = release.GovProposed
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-exec-refused", Target: what, Accepted: true,
		Reason: app.Message(), Evidence: []string{"safeTxHash " + gp.SafeTxHash}})
	w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: the Safe refused to execute the %s: %s. Safe owners: the approvals of current owners must meet the threshold again; approve safeTxHash %s (nonce %d) from your own wallets",
		w.st.Service, w.st.Version, what, app.Message(), gp.SafeTxHash, gp.SafeNonce))
	return app.Message(), nil
}

// governanceWatch runs the watch activity until the proposal reaches until: one activity for
// the whole wait (heartbeats, no history per poll); a rejected or cancelled proposal is not
// retried. An abort or rollback ends the wait (errStopped).
func (w *rel) governanceWatch(ctx workflow.Context, ch release.Chain, gp release.GovernanceProposal, until string, timeout time.Duration, summary string) (release.GovernanceProgress, error) {
	return w.untilStopped(ctx, func(ctx workflow.Context) (release.GovernanceProgress, error) {
		return watchGovernance(ctx, ch, gp, until, timeout, summary)
	})
}

func watchGovernance(ctx workflow.Context, ch release.Chain, gp release.GovernanceProposal, until string, timeout time.Duration, summary string) (release.GovernanceProgress, error) {
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute},
		Summary:             summary,
	}
	var pr release.GovernanceProgress
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), release.ActivityGovernanceWatch, release.GovernanceWatchRequest{Chain: ch, Proposal: gp.Proposal, Until: until}).Get(ctx, &pr)
	return pr, err
}

func govCancelWindow(contract string) string { return "governance " + contract + ": cancel approvals" }

// cancelGoverned takes back what a release stopped during the timelock delay left scheduled:
// the worker proposes TimelockController.cancel of both operations as a Safe transaction (the
// Safe is the canceller; the worker may not cancel), waits for the owners' approvals as a
// window (the stop already happened: this wait is the way out, not interruptible), executes
// the cancellation once and checks both operations are gone. The owners executing it
// themselves counts too. If they do not approve in time, the operations stay scheduled and
// the phase says so (only the worker may execute them, and it will not).
func (w *rel) cancelGoverned(ctx workflow.Context, ch release.Chain, ct release.Contract, gp release.GovernanceProposal, gi int) {
	cp, err := proposeCancel(ctx, ch, ct, gp, false)
	w.cancelProposed(ctx, ch, ct, gp, gi, cp, err, "the release stopped during the timelock delay")
}

// proposeCancel runs the activity that reads where gp stands on chain and builds the Safe
// transaction cancelling whatever of it the timelock holds (none: an empty SafeTxHash), or,
// with reject and gp not executed, the Safe transaction rejecting gp (Rejection set).
func proposeCancel(ctx workflow.Context, ch release.Chain, ct release.Contract, gp release.GovernanceProposal, reject bool) (release.GovernanceProposal, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5, InitialInterval: 2 * time.Second},
		Summary:             fmt.Sprintf("governance: propose the cancellation of the upgrade of %s on %s through Safe %s", ct.Name, ch.Name, ch.Governance.Safe),
	})
	var cp release.GovernanceProposal
	err := workflow.ExecuteActivity(actx, release.ActivityGovernanceCancel, release.GovernanceCancelRequest{Chain: ch, Proposal: gp.Proposal, Reject: reject}).Get(ctx, &cp)
	return cp, err
}

func govSettleWindow(contract string) string {
	return "governance " + contract + ": approved proposal after the abort"
}

// stoppedBeforeScheduled is the way out of a release stopped while the owners approve its
// proposal. It reads the chain (ProposeCancel: the proposal's phase and its operations):
//   - the Safe executed it (the operations are scheduled): it cancels them through the Safe,
//     as an abort during the timelock delay does;
//   - the owners' approvals meet the threshold but nobody executed it: anyone still may, so
//     the release waits, as a window, until the Safe's nonce moves (the owners reject it by
//     using the nonce otherwise, or someone executes it and the operations are cancelled);
//   - otherwise nothing is scheduled: the proposal is withdrawn (rejected: the owners used the
//     nonce otherwise; cancelled: they cancelled the operations themselves).
//
// Since versionGovernedRejectOnAbort, a proposal not executed (approved or not) is rejected
// instead (rejectProposal): an owner could still execute it with one more approveHash and their
// own sender, so the release asks the Safe to use its nonce for nothing.
func (w *rel) stoppedBeforeScheduled(ctx workflow.Context, ch release.Chain, ct release.Contract, gp release.GovernanceProposal, gi int) {
	what := fmt.Sprintf("upgrade of %s on %s", ct.Name, ch.Name)
	reject := workflow.GetVersion(ctx, versionGovernedRejectOnAbort, workflow.DefaultVersion, 1) >= 1
	cp, err := proposeCancel(ctx, ch, ct, gp, reject)
	if err == nil && cp.Rejection {
		if cp, err = w.rejectProposal(ctx, ch, ct, gp, gi, cp); err == errRejectExpired {
			w.publish(ctx)
			return
		}
	} else if err == nil && cp.SafeTxHash == "" && cp.Phase == release.GovApproved {
		w.st.Governance[gi].Stopped = fmt.Sprintf("approved by the threshold but not executed when the release stopped: anyone may still execute it; waiting until the Safe's nonce %d is used", gp.SafeNonce)
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-approved-at-stop", Target: what, Accepted: true,
			Reason: w.st.Governance[gi].Stopped, Evidence: []string{"safeTxHash " + gp.SafeTxHash}})
		w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: the release stopped, but the owners had already approved the %s (safeTxHash %s): anyone can still execute it. Safe owners, do not execute it; reject it by executing another Safe transaction at nonce %d. If it executes, shipgate cancels what it schedules through the Safe",
			w.st.Service, w.st.Version, what, gp.SafeTxHash, gp.SafeNonce))
		now := workflow.Now(ctx)
		w.st.Windows = append(w.st.Windows, release.WindowStatus{Name: govSettleWindow(ct.Name), StartedAt: now, EndsAt: now.Add(governanceApprovalTimeout),
			State: release.WindowOpen, Policy: release.Duration(governanceApprovalTimeout).String(),
			Note: fmt.Sprintf("until the Safe uses nonce %d: the approved safeTxHash %s executes, or the owners reject it", gp.SafeNonce, gp.SafeTxHash)})
		w.backStep = fmt.Sprintf("the way out: the Safe's nonce %d used (the approved proposal executed, or rejected by the owners)", gp.SafeNonce)
		w.publish(ctx)
		_, err = watchGovernance(ctx, ch, gp, release.WatchSettled, governanceApprovalTimeout,
			fmt.Sprintf("governance: awaiting the Safe's nonce %d used (executed or rejected) after the abort", gp.SafeNonce))
		w.backStep = ""
		w.window(govSettleWindow(ct.Name)).State = release.WindowDone
		if err == nil {
			cp, err = proposeCancel(ctx, ch, ct, gp, false)
		}
	}
	switch {
	case err != nil:
		w.st.Governance[gi].Phase = release.GovCancelExpired
		w.st.Governance[gi].Stopped = fmt.Sprintf("not known when the release stopped (%v)", err)
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-stopped-unknown", Target: what, Accepted: false,
			Reason: err.Error(), Evidence: []string{"safeTxHash " + gp.SafeTxHash}})
		w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: the release stopped while the owners approved the %s, and shipgate could not tell whether its Safe transaction executed (%v): Safe owners, do not approve or execute safeTxHash %s; if it executed, cancel operations %s and %s in timelock %s",
			w.st.Service, w.st.Version, what, err, gp.SafeTxHash, opID(gp, "upgrade"), opID(gp, "revert"), ch.Governance.Timelock))
	case cp.SafeTxHash == "":
		phase := release.GovWithdrawn
		switch cp.Phase {
		case release.GovRejected, release.GovCancelled:
			phase = cp.Phase
		}
		w.st.Governance[gi].Phase = phase
		if w.st.Governance[gi].Stopped == "" {
			w.st.Governance[gi].Stopped = "on chain when the release stopped: " + cp.Phase + "; nothing scheduled"
		}
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-withdrawn", Target: what, Accepted: true,
			Reason: fmt.Sprintf("the proposal was %s on chain; nothing is scheduled in timelock %s", cp.Phase, ch.Governance.Timelock), Evidence: []string{"safeTxHash " + gp.SafeTxHash}})
		w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: the %s is withdrawn (release stopped): Safe owners, do not approve safeTxHash %s; nothing was scheduled", w.st.Service, w.st.Version, what, gp.SafeTxHash))
	default:
		// the Safe executed the proposal: the operations wait in the timelock
		w.st.Governance[gi].Phase = release.GovScheduled
		w.st.Governance[gi].Stopped = fmt.Sprintf("the Safe executed safeTxHash %s (nonce %d) as the release stopped: operations %s and %s scheduled; cancelling them through the Safe",
			gp.SafeTxHash, gp.SafeNonce, opID(gp, "upgrade"), opID(gp, "revert"))
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-executed-at-stop", Target: what, Accepted: true,
			Reason: w.st.Governance[gi].Stopped, Evidence: []string{"safeTxHash " + gp.SafeTxHash}})
		w.cancelProposed(ctx, ch, ct, gp, gi, cp, nil, "the release stopped while the owners approved, and the Safe executed the proposal anyway")
	}
	w.publish(ctx)
}

// cancelProposed carries on with the cancellation ProposeCancel built (cp, or its error err):
// nothing pending, or the owners' approval of it as a window and its execution. why says how
// the operations came to need cancelling, for the owners.
func (w *rel) cancelProposed(ctx workflow.Context, ch release.Chain, ct release.Contract, gp release.GovernanceProposal, gi int, cp release.GovernanceProposal, err error, why string) {
	what := fmt.Sprintf("upgrade of %s on %s", ct.Name, ch.Name)
	switch {
	case err != nil:
		w.st.Governance[gi].Phase = release.GovCancelExpired
		w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: %s (%s), and its cancellation could not be proposed (%v): Safe owners, cancel operations %s and %s in timelock %s",
			w.st.Service, w.st.Version, why, what, err, opID(gp, "upgrade"), opID(gp, "revert"), ch.Governance.Timelock))
		return
	case cp.SafeTxHash == "":
		w.st.Governance[gi].Phase = release.GovWithdrawn // nothing left in the timelock
		return
	}
	w.st.Governance[gi].Phase, w.st.Governance[gi].Cancel, w.st.Governance[gi].CancelSafeTxHash = release.GovCancelling, cp.Summary, cp.SafeTxHash
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-cancel-proposed", Target: what, Accepted: true,
		Reason: strings.Join(cp.Summary, "; "), Evidence: []string{"safeTxHash " + cp.SafeTxHash}})
	w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: %s: Safe owners, approve the cancellation of the %s (approveHash of the safeTxHash from your own wallet):\n%s",
		w.st.Service, w.st.Version, why, what, strings.Join(cp.Summary, "\n")))
	now := workflow.Now(ctx)
	w.st.Windows = append(w.st.Windows, release.WindowStatus{Name: govCancelWindow(ct.Name), Stage: w.st.Stage, StartedAt: now, EndsAt: now.Add(governanceApprovalTimeout),
		State: release.WindowOpen, Policy: release.Duration(governanceApprovalTimeout).String(),
		Note: fmt.Sprintf("until %d of the Safe's owners approve the cancellation, safeTxHash %s", ch.Governance.Threshold, cp.SafeTxHash)})
	w.backStep = "the way out: the Safe owners' approval of the cancellation of the " + what
	w.publish(ctx)
	defer func() { w.backStep = "" }()
	err = w.execCancel(ctx, ch, ct, cp, release.OpGovCancel, govCancelWindow(ct.Name), gi)
	w.window(govCancelWindow(ct.Name)).State = release.WindowDone
	if err != nil {
		w.st.Governance[gi].Phase = release.GovCancelExpired
		w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: the cancellation of the %s did not complete (%v): operations %s and %s stay scheduled in timelock %s; only the worker may execute them and it will not",
			w.st.Service, w.st.Version, what, err, opID(gp, "upgrade"), opID(gp, "revert"), ch.Governance.Timelock))
		return
	}
	w.st.Governance[gi].Phase = release.GovCancelled
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-cancelled", Target: what, Accepted: true,
		Reason: "operations " + opID(gp, "upgrade") + " and " + opID(gp, "revert") + " cancelled through the Safe", Evidence: []string{"safeTxHash " + cp.SafeTxHash}})
	w.publish(ctx)
}

// execCancel waits for the owners' approvals of the cancellation (or rejection: op) cp and
// executes it (nothing to execute when they executed it themselves). The Safe refusing the
// execution for too few valid approvals (versionGovernedExecRefused) sends it back to the
// approvals, within what remains of the window named window, with the refusal in status.
func (w *rel) execCancel(ctx workflow.Context, ch release.Chain, ct release.Contract, cp release.GovernanceProposal, op, window string, gi int) error {
	what := "cancellation"
	if op == release.OpGovReject {
		what = "rejection"
	}
	timeout := governanceApprovalTimeout
	for round := 0; ; round++ {
		pr, err := watchGovernance(ctx, ch, cp, release.WatchCancel, timeout,
			fmt.Sprintf("governance: awaiting %d owner approvals of the %s, safeTxHash %s", ch.Governance.Threshold, what, cp.SafeTxHash))
		if err != nil || pr.Phase == release.GovCancelled {
			return err
		}
		_, err = w.contractTx(ctx, ch, release.ContractTx{Op: op, Contract: ct, Proposal: cp.Proposal, Round: round}, false)
		var app *temporal.ApplicationError
		if err == nil || !errors.As(err, &app) || app.Type() != release.ErrTypeGovNotApproved || workflow.GetVersion(ctx, versionGovernedExecRefused, workflow.DefaultVersion, 1) < 1 {
			return err
		}
		w.st.Governance[gi].Refused = app.Message()
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-exec-refused", Target: what + " of the upgrade of " + ct.Name + " on " + ch.Name,
			Accepted: true, Reason: app.Message(), Evidence: []string{"safeTxHash " + cp.SafeTxHash}})
		win := w.window(window)
		win.Note = fmt.Sprintf("again, until the approvals of current owners meet the Safe's threshold for the %s, safeTxHash %s: %s", what, cp.SafeTxHash, app.Message())
		w.publish(ctx)
		timeout = max(win.EndsAt.Sub(workflow.Now(ctx)), time.Second)
	}
}

func govRejectWindow(contract string) string {
	return "governance " + contract + ": rejection approvals"
}

// errRejectExpired: the owners did not approve the rejection in time (rejectProposal has said
// so in status and to the owners).
var errRejectExpired = errors.New("the rejection was not approved in time")

// rejectProposal is the way out of an aborted release whose proposal rp rejects (ProposeCancel
// with Reject): the rejection's facts go to status (Safe, nonce, safeTxHash), the audit log and
// the owners; their approval is a window (the stop already happened: the way out, not
// interruptible); the worker executes the rejection once, unless they executed it, or the
// proposal, themselves. Then the chain is read again (the result, as proposeCancel's): the
// proposal rejected, or, when it executed first, the cancellation of what it scheduled.
func (w *rel) rejectProposal(ctx workflow.Context, ch release.Chain, ct release.Contract, gp release.GovernanceProposal, gi int, rp release.GovernanceProposal) (release.GovernanceProposal, error) {
	g := &w.st.Governance[gi]
	what := fmt.Sprintf("upgrade of %s on %s", ct.Name, ch.Name)
	g.Phase, g.Rejection, g.RejectionSafeTxHash = release.GovRejecting, rp.Summary, rp.SafeTxHash
	g.Stopped = fmt.Sprintf("%s on chain when the release stopped, not executed: anyone could still execute it; rejecting it at nonce %d", rp.Phase, gp.SafeNonce)
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-reject-proposed", Target: what, Accepted: true,
		Reason: strings.Join(rp.Summary, "; "), Evidence: []string{"safeTxHash " + rp.SafeTxHash, "rejects safeTxHash " + gp.SafeTxHash}})
	w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: the release stopped before the Safe executed the %s (safeTxHash %s): Safe owners, do not execute it; approve its rejection (approveHash of the safeTxHash from your own wallet), which uses nonce %d so that it can never execute:\n%s",
		w.st.Service, w.st.Version, what, gp.SafeTxHash, gp.SafeNonce, strings.Join(rp.Summary, "\n")))
	now := workflow.Now(ctx)
	w.st.Windows = append(w.st.Windows, release.WindowStatus{Name: govRejectWindow(ct.Name), Stage: w.st.Stage, StartedAt: now, EndsAt: now.Add(governanceApprovalTimeout),
		State: release.WindowOpen, Policy: release.Duration(governanceApprovalTimeout).String(),
		Note: fmt.Sprintf("until %d of the Safe's owners approve the rejection, safeTxHash %s (nonce %d)", ch.Governance.Threshold, rp.SafeTxHash, rp.SafeNonce)})
	w.backStep = "the way out: the Safe owners' approval of the rejection of the " + what
	w.publish(ctx)
	err := w.execCancel(ctx, ch, ct, rp, release.OpGovReject, govRejectWindow(ct.Name), gi)
	w.backStep = ""
	w.window(govRejectWindow(ct.Name)).State = release.WindowDone
	var app *temporal.ApplicationError
	if err != nil && (!errors.As(err, &app) || app.Type() != release.ErrTypeGovRejected) {
		// the nonce used meanwhile (ErrTypeGovRejected) is the end this waits for: read on
		g.Phase = release.GovRejectExpired
		g.Stopped = fmt.Sprintf("the rejection (safeTxHash %s, nonce %d) did not complete: %v; the proposal may still execute", rp.SafeTxHash, rp.SafeNonce, err)
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "governance-reject-expired", Target: what, Accepted: false,
			Reason: g.Stopped, Evidence: []string{"safeTxHash " + rp.SafeTxHash}})
		w.notify(ctx, release.NoticeGovernance, fmt.Sprintf("%s %s: %s. Safe owners, do not execute safeTxHash %s; reject it by executing another Safe transaction at nonce %d, and if it executes, cancel operations %s and %s in timelock %s",
			w.st.Service, w.st.Version, g.Stopped, gp.SafeTxHash, gp.SafeNonce, opID(gp, "upgrade"), opID(gp, "revert"), ch.Governance.Timelock))
		return rp, errRejectExpired
	}
	cp, err := proposeCancel(ctx, ch, ct, gp, false)
	if err == nil && cp.SafeTxHash == "" {
		g.Stopped = fmt.Sprintf("rejected on chain: the Safe used nonce %d (the rejection, safeTxHash %s), so safeTxHash %s can never execute; nothing scheduled", gp.SafeNonce, rp.SafeTxHash, gp.SafeTxHash)
	}
	return cp, err
}

// errStopped: a governed wait (owners, delay) ended because the release was aborted or rolled
// back meanwhile; run takes the release's way out instead of failing it.
var errStopped = errors.New("stopped while waiting for the governance")

// untilStopped runs wait in a cancellable context and returns errStopped as soon as an abort
// (or rollback) arrives: the owners' approvals or the timelock's delay can take days, and a
// person must be able to stop the release meanwhile.
func (w *rel) untilStopped(ctx workflow.Context, wait func(workflow.Context) (release.GovernanceProgress, error)) (release.GovernanceProgress, error) {
	cctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	var (
		pr   release.GovernanceProgress
		err  error
		done bool
	)
	workflow.Go(cctx, func(gctx workflow.Context) {
		pr, err = wait(gctx)
		done = true
	})
	_ = workflow.Await(ctx, func() bool { return done || w.stop != nil })
	if !done {
		return pr, errStopped
	}
	return pr, err
}

// govPhase sets the status phase of the newest governed upgrade of contract on chainName (the
// status alone: no command depends on it).
func (w *rel) govPhase(chainName, contract, phase string) {
	for i := len(w.st.Governance) - 1; i >= 0; i-- {
		if g := &w.st.Governance[i]; g.Chain == chainName && g.Contract == contract {
			g.Phase = phase
			return
		}
	}
}

// opID is a proposal's timelock operation id as its summary states it.
func opID(gp release.GovernanceProposal, which string) string {
	for _, l := range gp.Summary {
		if rest, ok := strings.CutPrefix(l, "operation "+which+" "); ok {
			id, _, _ := strings.Cut(rest, " ")
			return id
		}
	}
	return "(unknown)"
}

// govAwaiting is a governed proposal waiting for the owners, with the off-chain signatures of
// its safeTxHash the workflow accepted.
type govAwaiting struct {
	hash     string
	chain    release.Chain
	proposal []byte
	sigs     []release.SafeSignature
}

// safeSign accepts an owner's EIP-712 signature of a proposal awaiting approvals: the hash
// must be the proposal's (the CLI recomputed it from the proposal's fields), and the signature
// must recover over it to a current owner of the Safe who has not signed yet.
func (w *rel) safeSign(ctx workflow.Context, cmd release.Command) (string, bool) {
	i := slices.IndexFunc(w.govOpen, func(a *govAwaiting) bool { return strings.EqualFold(a.hash, cmd.SafeTxHash) })
	if i < 0 {
		return fmt.Sprintf("refused: no governed proposal awaits approvals with safeTxHash %q (the CLI signs the hash it recomputes from the pending proposal's fields)", cmd.SafeTxHash), false
	}
	if workflow.GetVersion(ctx, versionGovernedSignatures, workflow.DefaultVersion, 1) < 1 {
		return "refused: off-chain signatures are not accepted by this release", false
	}
	open := w.govOpen[i]
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3, InitialInterval: time.Second},
		Summary:             "governance: check an owner's signature of safeTxHash " + open.hash,
	})
	var s release.SafeSignature
	err := workflow.ExecuteActivity(actx, release.ActivityGovernanceCheckSignature, release.GovernanceSignatureRequest{Chain: open.chain, Proposal: open.proposal, Signature: cmd.SafeSignature}).Get(ctx, &s)
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return "refused: " + app.Message(), false
		}
		return fmt.Sprintf("refused: the signature could not be checked: %v", err), false
	}
	if slices.ContainsFunc(open.sigs, func(x release.SafeSignature) bool { return x.Owner == s.Owner }) {
		return fmt.Sprintf("refused: owner %s already signed safeTxHash %s", s.Owner, open.hash), false
	}
	open.sigs = append(open.sigs, s)
	if w.govSigned != nil {
		w.govSigned.SendAsync(true)
	}
	return fmt.Sprintf("signature of safeTxHash %s by owner %s (%d handed in)", open.hash, s.Owner, len(open.sigs)), true
}

// watchApprovals is the owners' wait: the watch activity, counting the off-chain signatures
// accepted so far; a new one restarts it with the signature (the watch compares the sum with
// the threshold on chain). Without signatures it is the watch alone, as before.
func (w *rel) watchApprovals(ctx workflow.Context, ch release.Chain, gp release.GovernanceProposal, open *govAwaiting, timeout time.Duration, summary string) (release.GovernanceProgress, error) {
	if w.govSigned == nil {
		w.govSigned = workflow.NewBufferedChannel(ctx, 16)
	}
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute},
		Summary:             summary,
	}
	for {
		wctx, cancel := workflow.WithCancel(ctx)
		req := release.GovernanceWatchRequest{Chain: ch, Proposal: gp.Proposal, Until: release.WatchApproved, Signatures: slices.Clone(open.sigs)}
		f := workflow.ExecuteActivity(workflow.WithActivityOptions(wctx, opts), release.ActivityGovernanceWatch, req)
		var (
			pr    release.GovernanceProgress
			err   error
			again bool
		)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(f, func(f workflow.Future) { err = f.Get(ctx, &pr) })
		sel.AddReceive(w.govSigned, func(c workflow.ReceiveChannel, _ bool) {
			for c.ReceiveAsync(nil) {
			}
			again = true
		})
		sel.Select(ctx)
		if !again {
			cancel()
			return pr, err
		}
		cancel() // the next watch starts at once: the cancelled one, read-only, ends at its next heartbeat
	}
}
