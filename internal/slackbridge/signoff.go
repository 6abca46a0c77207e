package slackbridge

import (
	"github.com/shipgate/shipgate/internal/release"
)

// One fingerprint exists: release.GateFingerprint (gate id, check, the SHA-256 of every
// evidence file the gate's automated checks read). The workflow puts it into each signoff
// message it posts (release.SignoffMessage.Fingerprint), slackapp.RenderSignoff puts it into
// the buttons, a click carries it back verbatim, and the workflow compares it with its own
// when the decision arrives. Nothing translates between two hashes.

// currentFingerprint is the fingerprint of check in the status, and whether the release takes
// a decision on it now (see decidable).
func currentFingerprint(st release.Status, check string) (string, bool) {
	gs, cs, ok := find(st, check)
	if !ok || !decidable(st, check) {
		return "", false
	}
	return release.GateFingerprint(gs, cs.Name), true
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
