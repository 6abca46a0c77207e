package release

import (
	"time"

	"github.com/shipgate/shipgate/internal/promotion"
)

// Stop the line: one long-lived "line" workflow per worker policy holds whether every release
// of that policy may promote. `shipgate freeze --reason …` and `shipgate unfreeze` send it signed
// commands (actions ActionFreeze, ActionUnfreeze, addressed to LineID(policy)); a release joins
// its policy's line when it starts and the line relays every accepted command to it. The
// release trusts nothing the line says: it verifies the relayed command's signature against
// its own policy (AuthenticateRelayed) and takes only a command newer than the last it holds.
const (
	ActionFreeze   = "freeze"
	ActionUnfreeze = "unfreeze"
)

// LineID is the workflow id of a policy's line.
func LineID(policy string) string { return "shipgate-line/" + policy }

// LineCommand is a signed freeze or unfreeze.
type LineCommand struct {
	Action  string  `json:"action"`
	Command Command `json:"command"`
}

// LineState is a line's state: its latest accepted command (nil: never frozen), and, in the
// query's answer, its members and audit log.
type LineState struct {
	Policy  string       `json:"policy"`
	Latest  *LineCommand `json:"latest,omitempty"`
	Members int          `json:"members"`
	Audit   []AuditEntry `json:"audit,omitempty"`
}

// Frozen reports whether the line's latest command froze it.
func (s LineState) Frozen() bool { return s.Latest != nil && s.Latest.Action == ActionFreeze }

// LineInput starts (or continues) a line workflow.
type LineInput struct {
	Policy  string       `json:"policy"`
	Latest  *LineCommand `json:"latest,omitempty"`
	Members []string     `json:"members,omitempty"`
	Audit   []AuditEntry `json:"audit,omitempty"`
}

// JoinLineRequest asks the worker to join a release to its policy's line.
type JoinLineRequest struct {
	Policy  string `json:"policy"`
	Release string `json:"release"`
}

// AuthenticateRelayed verifies a stop-the-line command that reaches a release through its
// line, possibly long after it was issued: the signature, the addressing to the policy's line
// and the sender, as Authenticate does, but not the command's age (the release refuses any
// command older than the one it holds instead, so a replay changes nothing).
func (p *Policy) AuthenticateRelayed(lc LineCommand, policyName string) (Member, *AuthError) {
	if lc.Action != ActionFreeze && lc.Action != ActionUnfreeze {
		return Member{}, refuse(RefusedMalformed, "unknown stop-the-line action %q", clipStr(lc.Action))
	}
	return p.Authenticate(lc.Action, lc.Command, Binding{Release: LineID(policyName)}, lc.Command.IssuedAt)
}

func clipStr(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// LineStatus is what a release shows of its line.
type LineStatus struct {
	Frozen bool      `json:"frozen"`
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Hold kinds.
const (
	HoldWindow = "window" // a promotion window
	HoldLine   = "line"   // stop the line
)

// HoldStatus is what holds a release's promotion now, in words for people.
type HoldStatus struct {
	Kind  string          `json:"kind"`
	Point promotion.Point `json:"point"`
	// Window, Key, Until, Zone: the window hold (promotion.Hold).
	Window string    `json:"window,omitempty"`
	Key    time.Time `json:"key,omitzero"`
	Until  time.Time `json:"until,omitzero"`
	Zone   string    `json:"zone,omitempty"`
	Since  time.Time `json:"since"`
	// Text: "held by freeze `year-end` until 2027-01-04 09:00 Europe/Berlin".
	Text string `json:"text"`
}

// OverrideRec is one release manager's request to let the release through a window's
// occurrence (identified by Key).
type OverrideRec struct {
	Window string    `json:"window"`
	Key    time.Time `json:"key"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}
