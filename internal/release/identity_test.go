package release

import "testing"

// SamePerson is the one identity match behind every separation-of-duties rule: any of a
// member's names (id, email, Slack id) is the member, across groups; unknown names match
// only themselves.
func TestSamePerson(t *testing.T) {
	p := &Policy{Groups: map[string]Group{
		"reviewers": {Members: []Member{{ID: "alice", Email: "alice@example.com", Slack: "UALICE"}, {ID: "bob", Email: "bob@example.com"}}},
		"release":   {Members: []Member{{ID: "alice", Email: "alice@example.com", Slack: "UALICE"}}},
	}}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"alice", "alice", true},
		{"alice", "alice@example.com", true},
		{"UALICE", "alice@example.com", true},
		{"alice", "bob", false},
		{"alice", "bob@example.com", false},
		{"mallory", "mallory", true},
		{"mallory", "alice", false},
		{"", "bob", false},
		{"bob", "", false},
	} {
		if got := p.SamePerson(c.a, c.b); got != c.want {
			t.Errorf("SamePerson(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
