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
func gateStatus(state release.GateState, coverage ...string) release.Status {
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

func TestCurrentFingerprintIsTheWorkflows(t *testing.T) {
	base := gateStatus(release.GateWaiting, "a1", "b2")
	fp, ok := currentFingerprint(base, "peer-review")
	// the gate's every evidence digest, the same value the workflow compares a click with
	if !ok || fp != release.Fingerprint("G1", "peer-review", []string{"c3", "b2", "a1"}) {
		t.Fatalf("currentFingerprint = %q, %v", fp, ok)
	}
	tests := []struct {
		name string
		st   release.Status
		same bool
	}{
		{"evidence listed in another order", gateStatus(release.GateWaiting, "b2", "a1"), true},
		{"approvals and details change", func() release.Status {
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
			got, _ := currentFingerprint(tt.st, "peer-review")
			if (got == fp) != tt.same {
				t.Errorf("fingerprint %s vs %s: same=%v, want %v", got, fp, got == fp, tt.same)
			}
		})
	}
	if fp, ok := currentFingerprint(gateStatus(release.GatePassed, "a1"), "peer-review"); ok || fp != "" {
		t.Errorf("a passed gate takes no decision, got %q", fp)
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
