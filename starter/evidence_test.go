package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/release"
)

// The attacks of issue 12 against the running stack, through the real starter and worker
// binaries and a real S3-compatible evidence store:
//   - a signed start whose input names files on the worker's disk (its deployer key, files out
//     of any directory) or the worker's own metrics URL as evidence is refused before anything
//     runs, and the worker reads none of them;
//   - a report that is really a secret (the release manager's own file, uploaded by the starter)
//     fails its check with an error that quotes no byte of it, anywhere: status, audit, worker
//     log;
//   - recheck --evidence uploads a corrected report and the check passes on it.
func TestEvidenceAttacksAgainstTheStack(t *testing.T) {
	s := newStack(t)
	manifest, policy := s.writeRelease("1h", `{name: unit-coverage, kind: evidence, type: coverage, params: {min: "80"}}`,
		`{name: unit-coverage, kind: evidence, type: coverage, params: {min: "80", format: lcov}}`)
	const secret = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
	// the worker's secrets, in its own directory
	if err := os.MkdirAll(filepath.Join(s.workerDir, ".data"), 0o700); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(s.workerDir, ".data", "deployer.key")
	if err := os.WriteFile(keyFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// 1. a hand-made, properly signed input naming the worker's files and URLs
	r := s.load(manifest, policy)
	r.In.Manifest.Version = "6.6.6"
	r.In.Manifest.Evidence = map[string][]string{
		"unit-coverage": {keyFile, "../../../../etc/hostname", ".data/deployer.key"},
		"lint":          {"http://" + s.workerAddr + "/metrics", "http://127.0.0.1:8233/"},
	}
	if err := r.Start(ctx, c, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err == nil || !strings.Contains(err.Error(), "names a location") {
		t.Fatalf("a start naming worker paths: %v", err)
	}
	hand := s.status(r.In.Manifest.ID())
	if hand.State != release.StateFailed || !strings.Contains(hand.Reason, "evidence[lint]: names a location") {
		t.Fatalf("hand-made start: %s %q", hand.State, hand.Reason)
	}
	for _, g := range hand.Gates {
		for _, cs := range g.Checks {
			if len(cs.Evidence) != 0 || cs.Attempt != 0 {
				t.Fatalf("a refused release evaluated %s: %+v", cs.Name, cs)
			}
		}
	}

	// 2. a secret submitted as a coverage report
	if err := os.WriteFile(filepath.Join(filepath.Dir(manifest), "evidence", "coverage.out"), []byte(secret+"\nSF:"+secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(s.mustCLI("start", "-f", manifest, "--policy", policy, "--as", "rm-ada"))
	st := s.waitFor(id, "G1 blocked", time.Minute, func(st release.Status) bool { return st.Gates[0].State == release.GateBlocked })
	cov := st.Gates[0].Checks[0]
	if cov.Name != "unit-coverage" || cov.State != release.CheckError || !strings.Contains(cov.Detail, "evidence/coverage.out") {
		t.Fatalf("unit-coverage on a secret: %+v", cov)
	}
	t.Logf("unit-coverage on a secret: %s", cov.Detail)
	raw := s.mustCLI("status", id, "--json")
	for where, text := range map[string]string{"status --json": raw, "worker log": s.workerLog.String()} {
		for _, part := range []string{secret[:8], secret[len(secret)-8:]} {
			if strings.Contains(text, part) {
				t.Errorf("%s quotes the secret (%s…)", where, part)
			}
		}
	}

	// 3. recheck with a corrected report, uploaded by the CLI
	good := filepath.Join(s.root, "internal/evidence/testdata/coverage/c8.lcov")
	out := s.mustCLI("recheck", id, "--as", "rm-ada", "--gate", "G1", "--evidence", "unit-coverage="+good)
	if !strings.Contains(out, "with new evidence for unit-coverage") {
		t.Fatalf("recheck: %s", out)
	}
	st = s.waitFor(id, "unit-coverage rechecked", time.Minute, func(st release.Status) bool {
		return st.Gates[0].Checks[0].Attempt == 2 && st.Gates[0].Checks[0].State != release.CheckRunning
	})
	cov = st.Gates[0].Checks[0]
	data, _ := os.ReadFile(good)
	if len(cov.Evidence) != 1 || cov.Evidence[0].Bytes != int64(len(data)) {
		t.Fatalf("rechecked unit-coverage read %+v", cov.Evidence)
	}
	if cov.State != release.CheckPassed {
		t.Fatalf("unit-coverage on the corrected report: %+v", cov)
	}
	// a --evidence path that does not exist uploads nothing and sends nothing
	_, errOut, code := s.cli("recheck", id, "--as", "rm-ada", "--evidence", "lint=nope.sarif")
	if code != 1 || !strings.Contains(errOut, "evidence[lint][0]: nope.sarif: no such file") {
		t.Fatalf("recheck with a missing file: exit %d %q", code, errOut)
	}
	var parsed release.Status
	_ = json.Unmarshal([]byte(s.mustCLI("status", id, "--json")), &parsed)
	for _, a := range parsed.Audit {
		if a.Action == "recheck" && strings.Contains(a.Reason, "lint") {
			t.Fatalf("a failed upload sent a recheck: %+v", a)
		}
	}
}
