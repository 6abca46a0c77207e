package slackbridge

import (
	"slices"
	"strings"

	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/slackapp"
)

// Two fingerprints exist and must not be confused:
//
//   - the workflow's, release.Fingerprint(gate id, check, evidence SHA-256s), which it compares
//     with release.Command.Fingerprint when a decision arrives;
//   - the message's, slackapp.Signoff.Fingerprint(), which slackapp.RenderSignoff puts into
//     the button values and the interaction handler compares with Decider.CurrentFingerprint.
//
// Both are computed from the same snapshot of the gate here: Signoff builds what a message
// shows, CurrentFingerprint answers with that message's fingerprint, and Decide translates a
// matching click into the workflow's fingerprint of the same snapshot, so the workflow still
// refuses the decision if the evidence changed after the snapshot.

// Signoff builds what a signoff message for check shows from a release's status: the gate by
// id, one evidence row per automated check of the gate that read evidence, and the approvals
// so far. ok is false when no gate of the status has a signoff check of that name.
func Signoff(st release.Status, check string) (s slackapp.Signoff, ok bool) {
	gs, cs, ok := find(st, check)
	if !ok {
		return slackapp.Signoff{}, false
	}
	s = slackapp.Signoff{
		ReleaseID: st.ID, Service: st.Service, Version: st.Version,
		Gate: gs.ID, Check: cs.Name, Why: cs.Applies, Required: cs.Needed,
	}
	for _, c := range gs.Checks {
		if len(c.Evidence) == 0 {
			continue
		}
		s.Evidence = append(s.Evidence, slackapp.EvidenceItem{
			Name: c.Name, Outcome: c.State, Detail: c.Detail, Digest: evidenceDigest(c.Evidence),
		})
	}
	for _, a := range cs.Approvals {
		s.Approvals = append(s.Approvals, slackapp.Approval{Actor: a.Actor, At: a.At})
	}
	switch cs.State {
	case release.CheckPassed:
		s.Result = slackapp.SignoffApproved
	case release.CheckRejected:
		s.Result, s.ResultNote = slackapp.SignoffRejected, cs.Detail
	}
	return s, true
}

// evidenceDigest is one row's digest: the check's evidence SHA-256s, sorted, so that the
// message's fingerprint covers exactly the digests the workflow's does.
func evidenceDigest(ev []release.EvidenceDigest) string {
	d := make([]string, 0, len(ev))
	for _, e := range ev {
		d = append(d, e.SHA256)
	}
	slices.Sort(d)
	return strings.Join(d, ",")
}

// WorkflowFingerprint is the fingerprint the workflow computes for check now, from the same
// snapshot: every evidence SHA-256 of the check's gate.
func WorkflowFingerprint(st release.Status, check string) (string, bool) {
	gs, cs, ok := find(st, check)
	if !ok {
		return "", false
	}
	var digests []string
	for _, c := range gs.Checks {
		for _, e := range c.Evidence {
			digests = append(digests, e.SHA256)
		}
	}
	return release.Fingerprint(gs.ID, cs.Name, digests), true
}

// decidable reports whether the release takes a decision on check now, whoever makes it: the
// conditions of the workflow's own refusal that do not depend on the actor.
func decidable(st release.Status, check string) bool {
	gs, cs, ok := find(st, check)
	return ok && gs.State != release.GatePending && gs.State != release.GatePassed &&
		cs.State != release.CheckSkipped && !st.State.Final()
}

func find(st release.Status, check string) (release.GateStatus, release.CheckStatus, bool) {
	for _, g := range st.Gates {
		for _, c := range g.Checks {
			if c.Name == check && c.Kind == release.KindSignoff {
				return g, c, true
			}
		}
	}
	return release.GateStatus{}, release.CheckStatus{}, false
}
