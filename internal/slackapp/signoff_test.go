package slackapp

import (
	"strings"
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/release"
)

func TestSignoffFromWorkflowMessage(t *testing.T) {
	m := release.SignoffMessage{
		ReleaseID: "release/demo/1.4.0", Service: "demo", Version: "1.4.0", Gate: "G1", GateName: "Code quality",
		Check: "peer-review", Required: 2, Fingerprint: "00aa11bb22cc33dd",
		Evidence:  []release.SignoffEvidence{{Name: "lint", State: string(release.CheckPassed), Detail: "0 findings"}},
		Approvers: []release.Person{{ID: "bob", Slack: "U0BOB0005"}, {ID: "carol"}},
		Approvals: []release.SignoffDecision{{Person: release.Person{ID: "bob", Slack: "U0BOB0005"}, Channel: "slack", At: t0}},
		Refused: []release.SignoffDecision{{Person: release.Person{ID: "alice", Slack: "U0ALICE04"}, Channel: "slack", At: t0.Add(time.Minute),
			Reason: "refused: alice is the author of the release and may not sign off on it"}},
	}
	s := SignoffFrom(m, link)
	if s.Gate != "G1 Code quality" || s.Fingerprint != m.Fingerprint || s.Needed() != 1 {
		t.Errorf("signoff %+v", s)
	}
	if strings.Join(s.Approvers, ",") != "U0BOB0005,carol" {
		t.Errorf("approvers %q", s.Approvers)
	}
	if len(s.Refused) != 1 || s.Refused[0].Reason != "alice is the author of the release and may not sign off on it" || s.Refused[0].SlackUserID != "U0ALICE04" {
		t.Errorf("refused %+v", s.Refused)
	}
	raw := string(rawJSON(t, RenderSignoff(s), ""))
	for _, want := range []string{`\"f\":\"00aa11bb22cc33dd\"`, "<@U0BOB0005>", "*Not counted*", ":white_check_mark: *lint* passed"} {
		if !strings.Contains(raw, want) {
			t.Errorf("rendered message lacks %s:\n%s", want, raw)
		}
	}
}
