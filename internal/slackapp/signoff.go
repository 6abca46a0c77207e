package slackapp

import (
	"strings"

	"github.com/shipgate/shipgate/internal/release"
)

// SignoffFrom is what a signoff message the workflow built (release.SignoffMessage) shows:
// people by their Slack ids where the policy has them, refusal reasons without the
// workflow's "refused: " prefix. link points at the release in the Temporal UI.
func SignoffFrom(m release.SignoffMessage, link WorkflowLink) Signoff {
	s := Signoff{
		ReleaseID: m.ReleaseID, Service: m.Service, Version: m.Version,
		Gate: strings.TrimSpace(m.Gate + " " + m.GateName), Check: m.Check, Why: m.Why,
		Required: m.Required, Link: link, Result: SignoffResult(m.Result),
		ResultNote: m.ResultNote, Fingerprint: m.Fingerprint,
	}
	for _, e := range m.Evidence {
		s.Evidence = append(s.Evidence, EvidenceItem{Name: e.Name, Outcome: e.State, Detail: e.Detail})
	}
	for _, p := range m.Approvers {
		s.Approvers = append(s.Approvers, name(p))
	}
	for _, a := range m.Approvals {
		s.Approvals = append(s.Approvals, Approval{SlackUserID: a.Slack, Actor: a.ID, Channel: a.Channel, At: a.At})
	}
	refusals := func(ds []release.SignoffDecision) []Refusal {
		var out []Refusal
		for _, d := range ds {
			out = append(out, Refusal{SlackUserID: d.Slack, Actor: d.ID, Channel: d.Channel, At: d.At,
				Reason: strings.TrimPrefix(d.Reason, "refused: ")})
		}
		return out
	}
	s.Rejections, s.Refused = refusals(m.Rejections), refusals(m.Refused)
	return s
}

// name is how a message names a person: the Slack id (rendered as a mention) when known.
func name(p release.Person) string {
	if p.Slack != "" {
		return p.Slack
	}
	return p.ID
}
