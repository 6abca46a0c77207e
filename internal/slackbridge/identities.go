// Package slackbridge connects the Slack library (internal/slackapp) to release workflows:
// a slackapp.Decider that signals and queries workflows through a Temporal client, the
// mapping of Slack users to policy members, and the one place where what a signoff message
// shows is built from a release's status, so that the fingerprint on a button and the one
// the bridge checks are computed the same way.
package slackbridge

import (
	"fmt"
	"strings"

	"github.com/shipgate/shipgate/internal/checks"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/slackapp"
)

// EnvPolicy names the policy file whose groups map Slack users to member ids. Unset, the
// built-in default policy is used, as the starter does without --policy.
const EnvPolicy = "SHIPGATE_SLACK_POLICY"

// Identities maps each policy member with a Slack user id to the member's id, the identity
// the workflow records approvals under. The mapping is per worker, not per release: the
// interaction handler must name the clicker before it knows which release's policy applies.
// That is safe because the workflow checks group membership and the author rule against its
// own input policy; a worker policy that differs can only lead to refusals there, never to an
// approval the release's policy does not allow, as long as member ids mean the same person in
// both (they are owned by the same platform team).
func Identities(p *release.Policy) (slackapp.Identities, error) {
	members := map[string]string{}
	for name, g := range p.Groups {
		for _, m := range g.Members {
			slackID := strings.TrimSpace(m.Slack)
			if slackID == "" {
				continue
			}
			if prev, ok := members[slackID]; ok && prev != m.ID {
				return slackapp.Identities{}, fmt.Errorf("policy group %s: Slack user %s is both member %q and %q", name, slackID, prev, m.ID)
			}
			members[slackID] = m.ID
		}
	}
	return slackapp.NewIdentities(members)
}

// LoadIdentities reads the policy at path (the built-in default when path is empty) and
// returns its Slack identity mapping. Errors name the file.
func LoadIdentities(path string) (slackapp.Identities, error) {
	var (
		p   *release.Policy
		err error
	)
	if path == "" {
		p, err = release.DefaultPolicy(checks.Validate)
	} else {
		p, err = release.LoadPolicy(path, checks.Validate)
	}
	if err != nil {
		return slackapp.Identities{}, fmt.Errorf("slack identities: %w", err)
	}
	ids, err := Identities(p)
	if err != nil {
		if path == "" {
			path = "built-in default policy"
		}
		return slackapp.Identities{}, fmt.Errorf("slack identities from %s: %w", path, err)
	}
	return ids, nil
}
