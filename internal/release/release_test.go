package release

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func anyType(CheckKind, string, map[string]string) error { return nil }

func knownTypes(kind CheckKind, typ string, _ map[string]string) error {
	switch typ {
	case "junit", "coverage", "sarif", "govulncheck", "audit", "k6", "buildmatrix", "document":
		if kind == KindEvidence {
			return nil
		}
	case "prometheus-query", "prometheus-series", "prometheus-rules", "http", "resource-usage":
		if kind == KindProbe {
			return nil
		}
	}
	return errors.New("unknown " + string(kind) + " check type " + typ)
}

const goodManifest = `service: payments
version: 2.0.0
previousVersion: 1.9.3
author: alice
changes: {major: true, contracts: false, userFacing: true}
evidence:
  unit-coverage: [cover.out]
`

func TestDefaultPolicyCarriesTheSeedNumbers(t *testing.T) {
	p, err := DefaultPolicy(knownTypes)
	if err != nil {
		t.Fatal(err)
	}
	if p.Profile != ProfileProduction || p.Windows.TestnetSoak.D() != 14*24*time.Hour ||
		p.Windows.CanaryWatchMin.D() != 24*time.Hour || p.Windows.CanaryWatchMax.D() != 48*time.Hour {
		t.Fatalf("windows %+v", p.Windows)
	}
	if p.Canary.Percent < 1 || p.Canary.Percent > 5 {
		t.Fatalf("canary %g", p.Canary.Percent)
	}
	var steps []float64
	for _, s := range p.Rollout.Steps {
		steps = append(steps, s.Percent)
		if s.Bake.D() != 24*time.Hour {
			t.Fatalf("bake %s", s.Bake)
		}
	}
	if len(steps) != 3 || steps[0] != 5 || steps[1] != 25 || steps[2] != 100 {
		t.Fatalf("steps %v", steps)
	}
	gates := map[string]Stage{}
	for _, g := range p.Gates {
		gates[g.ID] = g.Before
	}
	want := map[string]Stage{"G1": StageStaging, "G3": StageTestnet, "G2": StageCanary, "G4": StageCanary, "G5": StageCanary}
	for id, st := range want {
		if gates[id] != st {
			t.Errorf("gate %s before %q, want %q", id, gates[id], st)
		}
	}
	if len(p.BelowFloor()) != 0 {
		t.Fatalf("default below floor: %v", p.BelowFloor())
	}
	if _, c := p.FindCheck("peer-review"); c == nil || c.Approvals != 2 {
		t.Fatal("peer review needs 2 approvals")
	}
	again, _ := DefaultPolicy(knownTypes)
	if p.Digest() != again.Digest() || !strings.HasPrefix(p.Digest(), "sha256:") {
		t.Fatal("digest not stable")
	}
	again.Canary.Percent = 4
	if p.Digest() == again.Digest() {
		t.Fatal("digest ignores the policy's content")
	}
}

func TestPolicyErrorsNameFileLineFieldReason(t *testing.T) {
	base := string(DefaultPolicyYAML())
	cases := []struct {
		name, from, to string
		want           []string
	}{
		{"unknown field", "profile: production", "profile: production\nprofiel: dev", []string{"policy.yaml:", "field profiel not found"}},
		{"unknown check type", "type: k6,", "type: k7,", []string{"gates[1].checks[3].type", "unknown evidence check type k7"}},
		{"canary outside 1-5", "percent: 5\n\nrollout", "percent: 10\n\nrollout", []string{"canary.percent", "1–5 %"}},
		{"approvals above group", "group: reviewers, approvals: 2", "group: reviewers, approvals: 4", []string{"gates[0].checks[5].approvals", "between 1 and the 3 members"}},
		{"unknown group", "group: architects", "group: architectz", []string{`group "architectz" is not defined`}},
		{"bad before", "before: staging", "before: development", []string{"gates[0].before"}},
		{"bad condition", "when: [major]", "when: [huge]", []string{`unknown condition "huge"`}},
		{"bad duration", "testnetSoak: 14d", "testnetSoak: 2weeks", []string{"invalid duration"}},
		{"last step not 100", "{percent: 100, bake: 24h}", "{percent: 90, bake: 24h}", []string{"the last step must be 100"}},
		{"token in policy", "url: http://127.0.0.1:8090/v1/traffic", "url: http://127.0.0.1:8090/v1/traffic\n  tokenSecret: abc-123", []string{"traffic.tokenSecret: must name a secret"}},
		{"any variable as token", "url: http://127.0.0.1:8090/v1/traffic", "url: http://127.0.0.1:8090/v1/traffic\n  tokenEnv: SHIPGATE_KEY_DEPLOYER", []string{"traffic.tokenEnv: is refused", "write tokenSecret: NAME"}},
		{"variable as secret", "url: http://127.0.0.1:8090/v1/traffic", "url: http://127.0.0.1:8090/v1/traffic\n  tokenSecret: SHIPGATE_KEY_DEPLOYER", []string{"traffic.tokenSecret: names a variable, not a secret"}},
		{"duplicate check", "name: lint,", "name: unit-coverage,", []string{`check "unit-coverage" is defined twice`}},
		{"step retry too long", "# stepRetry: 4m", "stepRetry: 2h", []string{"policy.yaml:183: traffic.stepRetry: must be between 10s and 1h0m0s (got 2h0m0s)"}},
		{"unknown concurrency", "# concurrency: queue", "concurrency: parallel", []string{`rollout.concurrency: must be queue or supersede (got "parallel")`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(base, c.from, c.to, 1)
			if src == base {
				t.Fatalf("fixture edit %q not applied", c.from)
			}
			_, err := ParsePolicy("policy.yaml", []byte(src), knownTypes)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestPolicyErrorLinesPointAtTheField(t *testing.T) {
	// dev: in production the changed type is also a floor error (floors_test.go)
	src := strings.Replace(string(DefaultPolicyYAML()), "type: k6,", "type: k7,", 1)
	src = strings.Replace(src, "profile: production", "profile: dev", 1)
	_, err := ParsePolicy("p.yaml", []byte(src), knownTypes)
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("want one FieldError, got %v", err)
	}
	line := strings.Split(src, "\n")[es[0].Line-1]
	if !strings.Contains(line, "k7") {
		t.Fatalf("line %d is %q, not the k7 check", es[0].Line, line)
	}
}

func TestDevProfileRefusedForMainnet(t *testing.T) {
	src := strings.Replace(string(DefaultPolicyYAML()), "profile: production", "profile: dev", 1) +
		"chains:\n  - {name: eth, role: mainnet, chainId: 1, rpc: http://127.0.0.1:8545}\n"
	_, err := ParsePolicy("p.yaml", []byte(src), knownTypes)
	if err == nil || !strings.Contains(err.Error(), "chains[0].chainId: 1 is Ethereum mainnet: the dev profile is refused") {
		t.Fatalf("got %v", err)
	}
	src = strings.Replace(src, "chainId: 1,", "chainId: 1337,", 1)
	if _, err := ParsePolicy("p.yaml", []byte(src), knownTypes); err != nil {
		t.Fatalf("local chain refused: %v", err)
	}
}

// A production window below the floor is refused when the policy loads; BelowFloor still
// reports one in a policy that reached the workflow before floors were validated (replays).
func TestProductionBelowFloorIsRefusedAndFlagged(t *testing.T) {
	src := strings.Replace(string(DefaultPolicyYAML()), "testnetSoak: 14d", "testnetSoak: 3d", 1)
	if _, err := ParsePolicy("p.yaml", []byte(src), knownTypes); err == nil || !strings.Contains(err.Error(), "windows.testnetSoak: 3d is below the production floor 14d") {
		t.Fatalf("got %v", err)
	}
	p, err := DefaultPolicy(knownTypes)
	if err != nil {
		t.Fatal(err)
	}
	p.Windows.TestnetSoak = Duration(3 * 24 * time.Hour)
	if got := p.BelowFloor(); got[WindowTestnetSoak] != FloorTestnetSoak || len(got) != 1 {
		t.Fatalf("below floor %v", got)
	}
}

func TestManifest(t *testing.T) {
	m, err := ParseManifest("release.yaml", []byte(goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID() != "release/payments/2.0.0" || m.Environment(StageCanary) != "canary" {
		t.Fatal(m.ID())
	}
	bad := []struct{ from, to, want string }{
		{"version: 2.0.0", "version: two", "release.yaml:2: version: must be a semantic version"},
		{"previousVersion: 1.9.3", "previousVersion: 2.0.0", "previousVersion: equals version"},
		{"author: alice", "author: ''", "author: is required"},
		{"service: payments", "service: Payments!", "service: must be lower-case"},
		{"[cover.out]", "[ftp://x/cover.out]", `scheme "ftp" not supported`},
		{"changes:", "chnages:", "field chnages not found"},
		{"author: alice", "author: alice\ncommitTime: 30.11.2026", `release.yaml:5: commitTime: must be an RFC 3339 time like 2026-11-30T14:05:00Z, as git show -s --format=%cI prints it (got "30.11.2026")`},
	}
	for _, b := range bad {
		_, err := ParseManifest("release.yaml", []byte(strings.Replace(goodManifest, b.from, b.to, 1)))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s → %s: got %v, want %q", b.from, b.to, err, b.want)
		}
	}
	timed, err := ParseManifest("release.yaml", []byte(strings.Replace(goodManifest, "author: alice", "author: alice\ncommitTime: 2026-11-30T15:05:00+01:00", 1)))
	if at, ok := timed.CommittedAt(); err != nil || !ok || !at.Equal(time.Date(2026, 11, 30, 14, 5, 0, 0, time.UTC)) {
		t.Errorf("commitTime: %v %v %v", at, ok, err)
	}
	if _, ok := m.CommittedAt(); ok {
		t.Error("a manifest without commitTime has one")
	}
	if _, err := ParseManifest("release.yaml", nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty manifest: %v", err)
	}
}

func TestValidateReleaseAgainstPolicy(t *testing.T) {
	p, err := DefaultPolicy(knownTypes)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ParseManifest("release.yaml", []byte(goodManifest))
	err = ValidateRelease("release.yaml", m, p)
	if err == nil || !strings.Contains(err.Error(), `check "integration-tests" (gate G1) applies to this release but the manifest names no evidence`) {
		t.Fatalf("missing evidence not reported: %v", err)
	}
	m.Evidence["peer-review"] = []string{"x"}
	if err := ValidateRelease("release.yaml", m, p); !strings.Contains(err.Error(), `"peer-review" is a signoff check`) {
		t.Fatalf("evidence for a signoff: %v", err)
	}
	// a group too small once the author is excluded
	delete(m.Evidence, "peer-review")
	m.Author = "dan" // the only architect, and the change is major
	if err := ValidateRelease("release.yaml", m, p); !strings.Contains(err.Error(), `check "architecture-review" needs 1 approvers from group "architects" but only 0 are not the author`) {
		t.Fatalf("unsatisfiable signoff: %v", err)
	}
}

// Load keeps evidence as the manifest wrote it (relative to the manifest): the starter uploads
// it from there (evstore.Upload); nothing is made into a path of this machine for a worker.
func TestLoadKeepsEvidenceAsWritten(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "release.yaml")
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(manifest, []byte(goodManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	pol := `profile: dev
roles: {releaseManagers: rm}
groups: {rm: {members: [{id: ada}, {id: bo}]}}
gates:
  - id: G1
    before: staging
    checks:
      - {name: unit-coverage, kind: evidence, type: coverage}
windows: {testnetSoak: 1m, canaryWatchMin: 1m, canaryWatchMax: 2m}
canary: {percent: 5}
rollout: {steps: [{percent: 100, bake: 1m}]}
traffic: {backend: webhook, url: "http://127.0.0.1:1/v1/traffic"}
`
	if err := os.WriteFile(policy, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	in, _, err := Load(manifest, policy, anyType)
	if err != nil {
		t.Fatal(err)
	}
	if got := in.Manifest.Evidence["unit-coverage"][0]; got != "cover.out" {
		t.Fatalf("evidence path %s", got)
	}
	if err := ValidateStored("input", &in.Manifest); err == nil || !strings.Contains(err.Error(), "evidence[unit-coverage]: names a location") {
		t.Fatalf("an input with locations passed ValidateStored: %v", err)
	}
	if in.PolicyName != "policy" {
		t.Fatalf("policy name %q", in.PolicyName)
	}
	if _, _, err := Load(filepath.Join(dir, "missing.yaml"), policy, anyType); err == nil {
		t.Fatal("missing manifest accepted")
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"14d": 14 * 24 * time.Hour, "24h": 24 * time.Hour, "90s": 90 * time.Second, "1h30m": 90 * time.Minute} {
		d, err := ParseDuration(in)
		if err != nil || d.D() != want {
			t.Errorf("%s: %v %v", in, d, err)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "-1d", "x", "99999d", "+1d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if Duration(14*24*time.Hour).String() != "14d" || Duration(90*time.Minute).String() != "1h30m0s" {
		t.Fatal("String")
	}
}

func TestFingerprintChangesWithEvidence(t *testing.T) {
	a := Fingerprint("G1", "peer-review", []string{"aa", "bb"})
	if a != Fingerprint("G1", "peer-review", []string{"bb", "aa"}) {
		t.Fatal("order matters")
	}
	if a == Fingerprint("G1", "peer-review", []string{"aa", "bc"}) || a == Fingerprint("G1", "qa", []string{"aa", "bb"}) {
		t.Fatal("fingerprint ignores its inputs")
	}
}
