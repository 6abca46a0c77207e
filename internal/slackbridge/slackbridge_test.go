package slackbridge

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/slackapp"
)

func TestIdentitiesFromPolicy(t *testing.T) {
	p := &release.Policy{Groups: map[string]release.Group{
		"reviewers": {Members: []release.Member{{ID: "alice", Slack: "U0ALICE04"}, {ID: "bob", Slack: " U0BOB0005 "}, {ID: "carol"}}},
		// The same person in a second group maps to the same member.
		"release-managers": {Members: []release.Member{{ID: "alice", Slack: "U0ALICE04"}}},
	}}
	ids, err := Identities(p)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		slackID, want string
		unmapped      bool
	}{
		{"U0ALICE04", "alice", false},
		{"U0BOB0005", "bob", false},
		{"carol", "", true},
		{"", "", true},
		{"U0MALLORY", "", true},
	}
	for _, tt := range tests {
		got, err := ids.Actor(tt.slackID)
		if tt.unmapped != errors.Is(err, slackapp.ErrUnmappedUser) || got != tt.want {
			t.Errorf("Actor(%q) = %q, %v; want %q (unmapped %v)", tt.slackID, got, err, tt.want, tt.unmapped)
		}
	}
	if ids.Len() != 2 {
		t.Errorf("Len %d, want 2", ids.Len())
	}
}

func TestIdentitiesRefuseAmbiguousPolicies(t *testing.T) {
	tests := []struct {
		name    string
		groups  map[string]release.Group
		wantErr string
	}{
		{"one Slack user as two members", map[string]release.Group{
			"a": {Members: []release.Member{{ID: "alice", Slack: "U0SHARED1"}, {ID: "bob", Slack: "U0SHARED1"}}},
		}, `Slack user U0SHARED1 is both member "alice" and "bob"`},
		{"one member claimed by two Slack users", map[string]release.Group{
			"a": {Members: []release.Member{{ID: "alice", Slack: "U0ALICE01"}}},
			"b": {Members: []release.Member{{ID: "alice", Slack: "U0ALICE02"}}},
		}, `actor "alice" is claimed by Slack users`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Identities(&release.Policy{Groups: tt.groups})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadIdentities(t *testing.T) {
	ids, err := LoadIdentities("")
	if err != nil {
		t.Fatalf("default policy: %v", err)
	}
	if a, err := ids.Actor("U0BOB0005"); err != nil || a != "bob" {
		t.Errorf("default policy maps U0BOB0005 to %q, %v", a, err)
	}
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if _, err := LoadIdentities(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v does not name %s", err, missing)
	}
	bad := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(bad, []byte("profile: dev\ngroups: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentities(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("malformed file: error %v does not name %s", err, bad)
	}
}

// gateStatus is G1 of the demo in a given state, with evidence on two automated checks.
func gateStatus(state string, coverage ...string) release.Status {
	ev := func(shas ...string) []release.EvidenceDigest {
		var out []release.EvidenceDigest
		for _, s := range shas {
			out = append(out, release.EvidenceDigest{Location: "/e/" + s, SHA256: s})
		}
		return out
	}
	return release.Status{ID: "release/demo/1.4.0", Service: "demo", Version: "1.4.0", State: release.StateRunning,
		Gates: []release.GateStatus{
			{ID: "G1", State: state, Checks: []release.CheckStatus{
				{Name: "unit-coverage", Kind: release.KindEvidence, State: release.CheckPassed, Detail: "84 %", Evidence: ev(coverage...)},
				{Name: "lint", Kind: release.KindEvidence, State: release.CheckPassed, Evidence: ev("c3")},
				{Name: "peer-review", Kind: release.KindSignoff, State: release.CheckPending, Needed: 2,
					Approvals: []release.Approval{{Actor: "bob", Channel: release.ChannelSlack}}},
				{Name: "architecture-review", Kind: release.KindSignoff, State: release.CheckSkipped},
			}},
			{ID: "G3", State: release.GatePending, Checks: []release.CheckStatus{
				{Name: "qa-validation", Kind: release.KindSignoff, State: release.CheckPending},
			}},
		}}
}

func TestFingerprintsFollowTheEvidence(t *testing.T) {
	base := gateStatus(release.GateWaiting, "a1", "b2")
	fp := func(st release.Status) (string, string) {
		s, ok := Signoff(st, "peer-review")
		if !ok {
			t.Fatal("peer-review not found")
		}
		w, _ := WorkflowFingerprint(st, "peer-review")
		return s.Fingerprint(), w
	}
	msg0, wf0 := fp(base)
	// The workflow's is release.Fingerprint over every evidence digest of the gate.
	if want := release.Fingerprint("G1", "peer-review", []string{"c3", "b2", "a1"}); wf0 != want {
		t.Fatalf("WorkflowFingerprint %s, want %s", wf0, want)
	}
	tests := []struct {
		name string
		st   release.Status
		same bool
	}{
		{"evidence listed in another order", gateStatus(release.GateWaiting, "b2", "a1"), true},
		{"approvals and state change", func() release.Status {
			s := gateStatus(release.GateWaiting, "a1", "b2")
			s.Gates[0].Checks[2].Approvals = nil
			s.Gates[0].Checks[0].Detail = "85 %"
			return s
		}(), true},
		{"new evidence after a recheck", gateStatus(release.GateWaiting, "a1", "b3"), false},
		{"evidence removed", gateStatus(release.GateWaiting, "a1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, wf := fp(tt.st)
			if (msg == msg0) != tt.same || (wf == wf0) != tt.same {
				t.Errorf("message fingerprint same=%v, workflow fingerprint same=%v; want %v", msg == msg0, wf == wf0, tt.same)
			}
		})
	}
}

func TestSignoffShowsTheGate(t *testing.T) {
	s, ok := Signoff(gateStatus(release.GateWaiting, "a1"), "peer-review")
	if !ok {
		t.Fatal("not found")
	}
	if s.Gate != "G1" || s.Required != 2 || len(s.Approvals) != 1 || s.Approvals[0].Actor != "bob" || s.Result != slackapp.SignoffPending {
		t.Errorf("signoff %+v", s)
	}
	if len(s.Evidence) != 2 || s.Evidence[0].Name != "unit-coverage" || s.Evidence[0].Detail != "84 %" {
		t.Errorf("evidence %+v", s.Evidence)
	}
	if _, ok := Signoff(gateStatus(release.GateWaiting), "unit-coverage"); ok {
		t.Error("an automated check was taken for a signoff")
	}
}

func TestDecidable(t *testing.T) {
	ended := gateStatus(release.GateWaiting)
	ended.State = release.StateAborted
	tests := []struct {
		name  string
		st    release.Status
		check string
		want  bool
	}{
		{"waiting gate", gateStatus(release.GateWaiting), "peer-review", true},
		{"gate still running its checks", gateStatus(release.GateRunning), "peer-review", true},
		{"blocked gate", gateStatus(release.GateBlocked), "peer-review", true},
		{"gate passed", gateStatus(release.GatePassed), "peer-review", false},
		{"gate not open yet", gateStatus(release.GateWaiting), "qa-validation", false},
		{"check does not apply", gateStatus(release.GateWaiting), "architecture-review", false},
		{"automated check", gateStatus(release.GateWaiting), "lint", false},
		{"unknown check", gateStatus(release.GateWaiting), "nope", false},
		{"release ended", ended, "peer-review", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decidable(tt.st, tt.check); got != tt.want {
				t.Errorf("decidable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWorkflowFingerprintTranslation(t *testing.T) {
	st := gateStatus(release.GateWaiting, "a1")
	s, _ := Signoff(st, "peer-review")
	wf, _ := WorkflowFingerprint(st, "peer-review")
	tests := []struct {
		name, clicked, want string
	}{
		{"button matches the snapshot", s.Fingerprint(), wf},
		{"button from older evidence", "0123456789abcdef0123456789abcdef", staleMark + "0123456789abcdef0123456789abcdef"},
		{"the workflow's own value is not accepted as a button", wf, staleMark + wf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := workflowFingerprint(st, slackapp.Decision{Check: "peer-review", Fingerprint: tt.clicked})
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
