package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// admit decides whether the release may run at all, before anything happens: the input names
// a worker policy and carries none of its own, the worker hands that policy out, the start
// command is signed by a member the policy lets start releases, for this release, this
// manifest and this policy, and the manifest passes the same validation the starter runs. A
// refused release ends at once, failed, with the reason in its status and audit log.
func (w *rel) admit(ctx workflow.Context) (release.Result, bool) {
	in := w.in
	if in.Policy != nil || in.PolicyDigest != "" || in.StartedBy != "" {
		return w.refuseStart(ctx, in.Start, release.RefusedDenied, "the input carries a policy: a release names one of the worker's policies (policyName) and the worker hands it out")
	}
	if id := workflow.GetInfo(ctx).WorkflowExecution.ID; id != w.st.ID {
		return w.refuseStart(ctx, in.Start, release.RefusedRetargeted, fmt.Sprintf("the workflow id %q is not the release's id %q", id, w.st.ID))
	}
	name := in.PolicyName
	if name == "" {
		name = release.DefaultPolicyName
	}
	pr, err := loadPolicy(ctx, name, w.local)
	if err != nil {
		return w.refuseStart(ctx, in.Start, release.RefusedDenied, err.Error())
	}
	w.pol = &pr.Policy
	w.st.PolicyName = pr.Name
	// The digest is the workflow's own computation over what it recorded, never a caller's.
	w.st.PolicyDigest = w.pol.Digest()
	if in.Start == nil {
		return w.refuseStart(ctx, nil, release.RefusedUnsigned, "the start command is not signed (the CLI signs with --key or ssh-agent)")
	}
	start := *in.Start
	who, aerr := w.pol.Authenticate(release.ActionStart, start, release.Binding{Release: w.st.ID}, startClock(ctx))
	switch {
	case aerr != nil:
		return w.refuseStart(ctx, in.Start, aerr.Reason, aerr.Detail)
	case start.Policy != name || start.Manifest != release.ManifestDigest(&in.Manifest):
		return w.refuseStart(ctx, in.Start, release.RefusedRetargeted, fmt.Sprintf("the start was signed for policy %q and manifest %s, not policy %q and this manifest", start.Policy, start.Manifest, name))
	case !w.pol.MayStart(who.ID):
		return w.refuseStart(ctx, in.Start, release.RefusedDenied, fmt.Sprintf("%s may not start releases under policy %q (starters: %v, or release managers when none are named)", who.ID, name, w.pol.Roles.Starters))
	}
	if err := release.ValidateInput(&in.Manifest, w.pol); err != nil {
		return w.refuseStart(ctx, in.Start, release.RefusedDenied, err.Error())
	}
	// The marker is asked only when the rule refuses: a release it admits records nothing, and
	// one refused before the rule existed replays as admitted.
	if err := release.GovernedMainnet(&in.Manifest, w.pol); err != nil && workflow.GetVersion(ctx, versionGovernedMainnet, workflow.DefaultVersion, 1) >= 1 {
		return w.refuseStart(ctx, in.Start, release.RefusedDenied, err.Error())
	}
	if err := w.evidenceStored(ctx); err != nil {
		return w.refuseStart(ctx, in.Start, release.RefusedDenied, err.Error())
	}
	w.nonces[start.Nonce] = start.IssuedAt
	w.init(w.st.PolicyDigest)
	w.audit(ctx, release.AuditEntry{Actor: who.ID, Channel: start.Channel, Action: release.ActionStart,
		Target: w.st.ID, Accepted: true, Reason: fmt.Sprintf("policy %s %s", name, w.st.PolicyDigest)})
	w.publish(ctx)
	return release.Result{}, false
}

// refuseStart ends a release that may not run: audited, counted and logged like every
// refused command, with nothing deployed and nothing notified.
func (w *rel) refuseStart(ctx workflow.Context, start *release.Command, reason, detail string) (release.Result, bool) {
	actor, channel := "", ""
	if start != nil {
		actor, channel = start.Actor, start.Channel
	}
	msg := "start refused: " + detail
	w.countRefusal(ctx, release.ActionStart, actor, reason, detail)
	w.audit(ctx, release.AuditEntry{Actor: actor, Channel: channel, Action: release.ActionStart, Target: w.st.ID, Reason: "refused: " + detail})
	w.setState(ctx, release.StateFailed, msg)
	return release.Result{State: release.StateFailed, Stage: w.st.Stage, Reason: msg}, true
}

// startClock is the time a signed start is judged at.
func startClock(ctx workflow.Context) time.Time {
	if workflow.GetVersion(ctx, versionStartAge, workflow.DefaultVersion, 1) < 1 {
		return workflow.Now(ctx)
	}
	return workflow.GetInfo(ctx).WorkflowStartTime
}
