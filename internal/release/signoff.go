package release

import (
	"slices"
	"strings"
	"time"
)

// Signoff message results; empty while the check still takes decisions.
const (
	SignoffApproved  = "approved"
	SignoffRejected  = "rejected"
	SignoffWithdrawn = "withdrawn" // the release ended or is stopping before the check passed
)

// maxRefusals bounds the refused attempts a message lists (the newest are kept): the message
// stays readable and the activity input small however often someone clicks.
const maxRefusals = 5

// SignoffMessage is everything the Slack message asking for one signoff shows. The workflow
// builds it from its status after every change and an activity renders and posts it; it holds
// no secrets, and the same snapshot always renders the same message.
type SignoffMessage struct {
	// Key makes posting idempotent: release id, run and check. TS, once known, is the
	// posted message's Slack timestamp: updates go to it directly.
	Key       string `json:"key"`
	TS        string `json:"ts,omitempty"`
	ReleaseID string `json:"releaseId"`
	Service   string `json:"service"`
	Version   string `json:"version"`
	Channel   string `json:"channel,omitempty"`
	Gate      string `json:"gate"`
	GateName  string `json:"gateName,omitempty"`
	Check     string `json:"check"`
	Why       string `json:"why,omitempty"`
	// Evidence is one row per automated check of the gate.
	Evidence []SignoffEvidence `json:"evidence,omitempty"`
	// Approvers are the members who may approve (the author excluded).
	Approvers []Person          `json:"approvers,omitempty"`
	Required  int               `json:"required"`
	Approvals []SignoffDecision `json:"approvals,omitempty"`
	// Rejections are accepted rejections with their reasons; Refused are attempts the
	// workflow refused (author, not a member, stale fingerprint, ...), newest last.
	Rejections []SignoffDecision `json:"rejections,omitempty"`
	Refused    []SignoffDecision `json:"refused,omitempty"`
	Result     string            `json:"result,omitempty"`
	ResultNote string            `json:"resultNote,omitempty"`
	// Fingerprint is GateFingerprint of what the message shows: the buttons carry it and the
	// workflow refuses a decision whose fingerprint is no longer current.
	Fingerprint string `json:"fingerprint"`
}

// Person is a policy member as a message names them: by Slack id when the policy has one.
type Person struct {
	ID    string `json:"id"`
	Slack string `json:"slack,omitempty"`
}

// SignoffEvidence summarises one automated check of the gate.
type SignoffEvidence struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Detail  string `json:"detail,omitempty"`
	Digests int    `json:"digests,omitempty"` // how many files the fingerprint covers
}

// SignoffDecision is one approval, rejection or refused attempt.
type SignoffDecision struct {
	Person
	Channel string    `json:"channel"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"`
}

// SignoffPosted says where a signoff message is.
type SignoffPosted struct {
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"` // empty when Slack is not configured
}

// GateFingerprint is the fingerprint of what an approver of check in gate gs is shown: the
// gate, the check and the SHA-256 of every evidence file the gate's automated checks read. It
// is the one fingerprint both the Slack button and the workflow use.
func GateFingerprint(gs GateStatus, check string) string {
	var digests []string
	for _, cs := range gs.Checks {
		for _, e := range cs.Evidence {
			digests = append(digests, e.SHA256)
		}
	}
	return Fingerprint(gs.ID, check, digests)
}

// BuildSignoffMessage builds the message for signoff check ci of gate gi from the policy and
// the status. The result is set once the check passed or was rejected; the caller sets
// withdrawn when the release stops. It is pure: the workflow calls it on every change.
func BuildSignoffMessage(p *Policy, author string, st *Status, gi, ci int) SignoffMessage {
	gs, cs := &st.Gates[gi], &st.Gates[gi].Checks[ci]
	m := SignoffMessage{
		ReleaseID: st.ID, Service: st.Service, Version: st.Version,
		Gate: gs.ID, GateName: gs.Name, Check: cs.Name, Why: cs.Applies, Required: cs.Needed,
		Fingerprint: GateFingerprint(*gs, cs.Name),
	}
	for _, c := range gs.Checks {
		if c.Kind != KindSignoff && c.State != CheckSkipped {
			m.Evidence = append(m.Evidence, SignoffEvidence{Name: c.Name, State: string(c.State), Detail: c.Detail, Digests: len(c.Evidence)})
		}
	}
	// a governed upgrade under way: the facts the Safe owners check, beside the gate's evidence
	for _, g := range st.Governance {
		m.Evidence = append(m.Evidence, SignoffEvidence{Name: "governed upgrade of " + g.Contract + " on " + g.Chain, State: g.Phase, Detail: strings.Join(g.Summary, "; ")})
	}
	authorID := author
	if a, ok := p.Resolve(author); ok {
		authorID = a.ID
	}
	for _, mem := range p.Groups[cs.Group].Members {
		if mem.ID != authorID {
			m.Approvers = append(m.Approvers, Person{ID: mem.ID, Slack: mem.Slack})
		}
	}
	person := func(actor string) Person {
		if mem, ok := p.Resolve(actor); ok {
			return Person{ID: mem.ID, Slack: mem.Slack}
		}
		return Person{ID: actor}
	}
	for _, a := range cs.Approvals {
		m.Approvals = append(m.Approvals, SignoffDecision{Person: person(a.Actor), Channel: a.Channel, At: a.At})
	}
	for _, e := range st.Audit {
		if e.Target != cs.Name || (e.Action != SignalApprove && e.Action != SignalReject) {
			continue
		}
		d := SignoffDecision{Person: person(e.Actor), Channel: e.Channel, At: e.At, Reason: e.Reason}
		switch {
		case !e.Accepted:
			m.Refused = append(m.Refused, d)
		case e.Action == SignalReject:
			m.Rejections = append(m.Rejections, d)
		}
	}
	if n := len(m.Refused); n > maxRefusals {
		m.Refused = slices.Clone(m.Refused[n-maxRefusals:])
	}
	switch cs.State {
	case CheckPassed:
		m.Result = SignoffApproved
	case CheckRejected:
		m.Result, m.ResultNote = SignoffRejected, cs.Detail
	}
	return m
}
