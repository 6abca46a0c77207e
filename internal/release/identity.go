package release

import (
	"maps"
	"slices"
)

// Identities: a person is named by their member id, email or Slack id; every rule that asks
// whether two names are one person (separation of duties) asks here.

// Is reports whether identity names the member: its id, email or Slack id. The empty identity
// names no one, so a member without an email is never matched by a missing one.
func (m Member) Is(identity string) bool {
	return identity != "" && (m.ID == identity || m.Email == identity || m.Slack == identity)
}

// Resolve finds the member an identity (id, email or Slack id) names.
func (p *Policy) Resolve(identity string) (Member, bool) {
	for _, name := range slices.Sorted(maps.Keys(p.Groups)) {
		for _, m := range p.Groups[name].Members {
			if m.Is(identity) {
				return m, true
			}
		}
	}
	return Member{}, false
}

// InGroup reports whether the identity belongs to the group.
func (p *Policy) InGroup(group, identity string) bool {
	for _, m := range p.Groups[group].Members {
		if m.Is(identity) {
			return true
		}
	}
	return false
}

// SamePerson reports whether identities a and b name the same person: they are equal, or
// each names a member and the two have one id (a member's id, email and Slack id are one
// person, so no alias gets around separation of duties).
func (p *Policy) SamePerson(a, b string) bool {
	if a == b {
		return true
	}
	ma, okA := p.Resolve(a)
	mb, okB := p.Resolve(b)
	return okA && okB && ma.ID == mb.ID
}
