package slackapp

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnmappedUser is returned for a Slack user that no policy group names.
var ErrUnmappedUser = errors.New("slack user is not a member of any approver group")

// Identities maps Slack user ids to the actor identities the workflow
// knows (policy group members, e.g. by email). A click from a Slack user
// not in the map is refused before any signal is sent: the workflow checks
// group membership by actor, and an unmapped user could only ever be
// refused there, with less helpful feedback.
type Identities struct {
	bySlackID map[string]string
}

// NewIdentities builds the mapping from policy group members, given as
// Slack user id → actor identity. Empty ids or identities are an error, as
// is one actor claimed by two Slack users (that would let two people
// approve as one, defeating "N distinct approvers").
func NewIdentities(members map[string]string) (Identities, error) {
	m := make(map[string]string, len(members))
	owner := make(map[string]string, len(members))
	var errs []error
	for slackID, actor := range members {
		slackID, actor = strings.TrimSpace(slackID), strings.TrimSpace(actor)
		switch {
		case slackID == "":
			errs = append(errs, fmt.Errorf("identities: member %q has an empty Slack user id", actor))
			continue
		case actor == "":
			errs = append(errs, fmt.Errorf("identities: Slack user %q has an empty actor identity", slackID))
			continue
		}
		if prev, ok := owner[actor]; ok && prev != slackID {
			a, b := min(prev, slackID), max(prev, slackID)
			errs = append(errs, fmt.Errorf("identities: actor %q is claimed by Slack users %q and %q", actor, a, b))
			continue
		}
		owner[actor] = slackID
		m[slackID] = actor
	}
	if err := errors.Join(errs...); err != nil {
		return Identities{}, err
	}
	return Identities{bySlackID: m}, nil
}

// Actor returns the actor identity for a Slack user, or ErrUnmappedUser.
func (i Identities) Actor(slackUserID string) (string, error) {
	if a, ok := i.bySlackID[slackUserID]; ok {
		return a, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnmappedUser, slackUserID)
}

// Len is the number of mapped users.
func (i Identities) Len() int { return len(i.bySlackID) }
