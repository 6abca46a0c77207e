package slackapp

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.json from the current rendering")

var (
	t0   = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	link = WorkflowLink{UIBase: "http://localhost:8233/", Namespace: "default", WorkflowID: "release/payments/1.4.0"}
)

func baseSignoff() Signoff {
	return Signoff{
		ReleaseID: "release/payments/1.4.0",
		Service:   "payments",
		Version:   "1.4.0",
		Gate:      "G1 Code quality",
		Check:     "security-review",
		Why:       "contracts changed",
		Evidence: []EvidenceItem{
			{Name: "coverage", Outcome: "passed", Detail: "84.2 % >= 80 %"},
			{Name: "integration", Outcome: "passed", Detail: "412/412 passed"},
			{Name: "sarif", Outcome: "failed", Detail: "1 warning <high> & 0 critical"},
		},
		Approvers:   []string{"U01ALICE", "U02BOB", "U03CAROL"},
		Required:    2,
		Link:        link,
		Fingerprint: "3f2a9c41d07be815",
	}
}

// rawJSON marshals v without HTML escaping, so that what Slack would read
// (and the golden files) show <, > and & as they are.
func rawJSON(t *testing.T, v any, indent string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return buf.Bytes()
}

// golden compares v, marshalled as indented JSON, with testdata/golden/name.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got := rawJSON(t, v, "  ")
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run go test ./internal/slackapp -run TestGolden -update to create it)", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering; if the change is intended, rerun with -update.\n--- got\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	pending := baseSignoff()
	pending.Approvals = []Approval{{SlackUserID: "U01ALICE", Actor: "alice", Channel: "slack", At: t0}}
	pending.Refused = []Refusal{
		{SlackUserID: "U09DAVE", Actor: "dave", Channel: "slack", At: t0.Add(time.Hour), Reason: "dave is the author of the release and may not sign off on it"},
		{Actor: "mallory", Channel: "cli", At: t0.Add(2 * time.Hour), Reason: "mallory is not a member of group <security>"},
	}

	approved := baseSignoff()
	approved.Approvals = []Approval{{SlackUserID: "U01ALICE", Channel: "slack", At: t0}, {Actor: "bob@example.com", Channel: "cli", At: t0.Add(2 * time.Hour)}}
	approved.Result = SignoffApproved

	rejected := baseSignoff()
	rejected.Rejections = []Refusal{{SlackUserID: "U02BOB", Channel: "slack", At: t0, Reason: "audit finding H-2 still open"}}
	rejected.Result = SignoffRejected
	rejected.ResultNote = "the release waits for new evidence"

	withdrawn := baseSignoff()
	withdrawn.Approvals = pending.Approvals
	withdrawn.Result = SignoffWithdrawn
	withdrawn.ResultNote = "release abort by rm-ada: superseded by 1.4.1"

	cases := map[string]any{
		"signoff_request":   RenderSignoff(baseSignoff()),
		"signoff_pending":   RenderSignoff(pending),
		"signoff_approved":  RenderSignoff(approved),
		"signoff_rejected":  RenderSignoff(rejected),
		"signoff_withdrawn": RenderSignoff(withdrawn),
		"stage_change":      RenderStageChange(StageChange{ReleaseID: "release/payments/1.4.0", From: "staging", To: "testnet", At: t0, Link: link}),
		"window_started":    RenderWindow(Window{ReleaseID: "release/payments/1.4.0", Name: "testnet soak", Phase: WindowStarted, Deadline: t0.Add(14 * 24 * time.Hour), Link: link}),
		"window_ended":      RenderWindow(Window{ReleaseID: "release/payments/1.4.0", Name: "testnet soak", Phase: WindowEnded, Deadline: t0, Note: "no blocking issues"}),
		"gate_blocked":      RenderGateBlocked(GateBlocked{ReleaseID: "release/payments/1.4.0", Gate: "G3 Testing", Check: "load-test", Reason: "p99 412 ms > 300 ms", Link: link}),
		"issue_reported":    RenderIssueReported(IssueReported{ReleaseID: "release/payments/1.4.0", Reporter: "community:0xabc", Severity: "high", Summary: "refund fails for amounts > 1 ETH", URL: "https://issues.example.com/42", Blocking: true, Link: link}),
		"rollback":          RenderRollback(Rollback{ReleaseID: "release/payments/1.4.0", FromVersion: "1.4.0", ToVersion: "1.3.2", Reason: "error rate 4.1 % > 1 % at 25 % traffic", Link: link}),
		"abort":             RenderAbort(Abort{ReleaseID: "release/payments/1.4.0", Actor: "alice@example.com", Reason: "superseded by 1.4.1", Link: link}),
		"reject_modal":      RejectModal(ActionValue{ReleaseID: "release/payments/1.4.0", Check: "security-review", Fingerprint: baseSignoff().Fingerprint, ResponseURL: "https://hooks.slack.com/actions/T1/1/abc"}),
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) { golden(t, name, v) })
	}
}

// Rendered blocks must survive Slack's own decoding: what we post is what
// a client (and the interaction payload's message field) gets back.
func TestRenderedBlocksRoundTrip(t *testing.T) {
	msg := RenderSignoff(baseSignoff())
	raw, err := json.Marshal(msg.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	var back slack.Blocks
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("slack cannot decode our blocks: %v", err)
	}
	if len(back.BlockSet) != len(msg.Blocks) {
		t.Fatalf("round trip kept %d of %d blocks", len(back.BlockSet), len(msg.Blocks))
	}
}

func TestSignoffButtons(t *testing.T) {
	tests := []struct {
		name        string
		result      SignoffResult
		wantButtons bool
	}{
		{"pending has buttons", SignoffPending, true},
		{"approved has none", SignoffApproved, false},
		{"rejected has none", SignoffRejected, false},
		{"withdrawn has none", SignoffWithdrawn, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSignoff()
			s.Result = tt.result
			var actions *slack.ActionBlock
			for _, b := range RenderSignoff(s).Blocks {
				if a, ok := b.(*slack.ActionBlock); ok {
					actions = a
				}
			}
			if (actions != nil) != tt.wantButtons {
				t.Fatalf("action block present = %v, want %v", actions != nil, tt.wantButtons)
			}
			if actions == nil {
				return
			}
			approve := actions.Elements.ElementSet[0].(*slack.ButtonBlockElement)
			if approve.ActionID != ActionApprove || approve.Confirm == nil {
				t.Errorf("approve button %q confirm=%v, want %q with a confirm dialog", approve.ActionID, approve.Confirm, ActionApprove)
			}
			v, err := ParseActionValue("approve", approve.Value)
			if err != nil {
				t.Fatal(err)
			}
			want := ActionValue{ReleaseID: s.ReleaseID, Check: s.Check, Fingerprint: s.Fingerprint}
			if v != want {
				t.Errorf("button value %+v, want %+v", v, want)
			}
			reject := actions.Elements.ElementSet[1].(*slack.ButtonBlockElement)
			if reject.ActionID != ActionReject || reject.Value != approve.Value {
				t.Errorf("reject button %q value %q", reject.ActionID, reject.Value)
			}
		})
	}
}

func TestWorkflowLinkURL(t *testing.T) {
	tests := []struct {
		link WorkflowLink
		want string
	}{
		{link, "http://localhost:8233/namespaces/default/workflows/release%2Fpayments%2F1.4.0"},
		{WorkflowLink{UIBase: "https://cloud.example/ui", Namespace: "ship.ab12", WorkflowID: "release/a b/1"}, "https://cloud.example/ui/namespaces/ship.ab12/workflows/release%2Fa%20b%2F1"},
		{WorkflowLink{Namespace: "default", WorkflowID: "x"}, ""},
	}
	for _, tt := range tests {
		if got := tt.link.URL(); got != tt.want {
			t.Errorf("%+v.URL() = %q, want %q", tt.link, got, tt.want)
		}
	}
}

func TestUserTextIsEscaped(t *testing.T) {
	s := baseSignoff()
	s.Why = "<!channel> & <https://evil|click>"
	raw := rawJSON(t, RenderSignoff(s), "")
	if !strings.Contains(string(raw), "&lt;!channel&gt; &amp;") {
		t.Fatalf("escaped user text not found: %s", raw)
	}
	if strings.Contains(string(raw), "<!channel>") || strings.Contains(string(raw), "<https://evil") {
		t.Fatalf("user text reached mrkdwn unescaped: %s", raw)
	}
}

func TestEvidenceListIsCapped(t *testing.T) {
	s := baseSignoff()
	s.Evidence = nil
	for range 30 {
		s.Evidence = append(s.Evidence, EvidenceItem{Name: "check", Outcome: "pass", Detail: strings.Repeat("x", 500)})
	}
	for _, b := range RenderSignoff(s).Blocks {
		if sec, ok := b.(*slack.SectionBlock); ok && len(sec.Text.Text) > maxSectionText {
			t.Fatalf("section text %d bytes > Slack's %d", len(sec.Text.Text), maxSectionText)
		}
	}
	raw := rawJSON(t, RenderSignoff(s), "")
	if !strings.Contains(string(raw), "more in the Temporal UI") {
		t.Error("capped evidence list does not say how many rows were left out")
	}
}
