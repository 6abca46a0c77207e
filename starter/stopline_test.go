package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/promotion"
	"github.com/shipgate/shipgate/internal/release"
)

// Stop the line across many releases on the dev server, through the CLI and the worker binary:
// a freeze (signed, by an operator) reaches every running release and holds the one that tries
// to promote; a release started meanwhile holds before anything runs; the stopped line
// survives a worker crash and shows in list; a stranger cannot freeze; the unfreeze releases
// them all. Then a deny window holds the canary's traffic increase until two release managers
// let the release through it.
func TestStopTheLineAcrossManyReleasesOnDevServer(t *testing.T) {
	s := newStack(t)
	now := time.Now().UTC()
	deny := fmt.Sprintf("promotion:\n  deny:\n    - {name: dev-freeze, tzid: UTC, from: %q, until: %q, traffic: true}\n\nroles:",
		now.Add(-time.Hour).Format(promotion.LocalLayout), now.Add(2*time.Hour).Format(promotion.LocalLayout))
	manifest, policy := s.writeRelease("1s", "roles:", deny)
	const n = 6
	var ids []string
	for i := range n {
		m := versioned(t, manifest, fmt.Sprintf("1.4.%d", i))
		ids = append(ids, strings.TrimSpace(s.mustCLI("start", "-f", m, "--policy", policy, "--as", "rm-ada")))
	}
	for _, id := range ids {
		s.waitFor(id, "G1 waiting", 30*time.Second, func(st release.Status) bool { return st.Gates[0].State == release.GateWaiting })
	}

	if _, errOut, code := s.cli("freeze", "--policy", policy, "--as", "bob", "--reason", "I want to"); code != 4 || !strings.Contains(errOut, "bob may not stop or restart the line") {
		t.Fatalf("freeze by a reviewer: exit %d %q", code, errOut)
	}
	frozeAt := time.Now()
	s.mustCLI("freeze", "--policy", policy, "--as", "oc-cy", "--reason", "incident 7: checkout errors")
	for _, id := range ids {
		s.waitFor(id, "the freeze", 30*time.Second, func(st release.Status) bool { return st.Line != nil && st.Line.Frozen })
	}
	t.Logf("freeze relayed to %d running releases in %s", n, time.Since(frozeAt).Round(time.Millisecond))

	// the release that tries to promote is held; a new release holds before it starts
	s.mustCLI("approve", ids[0], "--check", "peer-review", "--as", "bob")
	s.mustCLI("approve", ids[0], "--check", "peer-review", "--as", "carol")
	held := s.waitFor(ids[0], "held leaving development", 30*time.Second, func(st release.Status) bool {
		return st.Hold != nil && st.Hold.Kind == release.HoldLine && st.Gates[0].State == release.GatePassed
	})
	if held.Stage != release.StageDevelopment || !strings.Contains(held.Hold.Text, "incident 7: checkout errors") {
		t.Fatalf("held %s: %+v", held.Stage, held.Hold)
	}
	late := strings.TrimSpace(s.mustCLI("start", "-f", versioned(t, manifest, "1.5.0"), "--policy", policy, "--as", "rm-ada"))
	s.waitFor(late, "held at start", 30*time.Second, func(st release.Status) bool {
		return st.Hold != nil && st.Hold.Point.Leave == "start" && st.Gates[0].State == release.GatePending
	})

	// durable: a worker crash keeps the line stopped
	s.killWorker()
	s.startWorker()
	if out := s.mustCLI("list"); !strings.Contains(out, "LINE STOPPED  policy demo: frozen by oc-cy") {
		t.Fatalf("list does not show the stopped line:\n%s", out)
	}
	if out := s.mustCLI("status", ids[0]); !strings.Contains(out, "held by stop-the-line") || !strings.Contains(out, "LINE STOPPED by oc-cy") {
		t.Fatalf("status does not show the hold:\n%s", out)
	}

	unfrozeAt := time.Now()
	s.mustCLI("unfreeze", "--policy", policy, "--as", "rm-bo", "--reason", "incident 7 resolved")
	for _, id := range append(ids, late) {
		s.waitFor(id, "the unfreeze", 30*time.Second, func(st release.Status) bool { return st.Line != nil && !st.Line.Frozen })
	}
	t.Logf("unfreeze relayed to %d releases in %s", n+1, time.Since(unfrozeAt).Round(time.Millisecond))
	s.waitFor(late, "G1 after the unfreeze", 30*time.Second, func(st release.Status) bool { return st.Gates[0].State == release.GateWaiting })

	// the first release goes on, to the canary's traffic increase, which the deny window holds
	id := ids[0]
	s.waitFor(id, "G3 waiting", 30*time.Second, func(st release.Status) bool { return st.Gates[1].State == release.GateWaiting })
	s.mustCLI("approve", id, "--check", "qa-validation", "--as", "grace")
	// the gates before the canary open once the release is in the testnet: approving earlier
	// is refused (wrong stage), and a 1 s soak made that a race (seen once in ten runs)
	s.waitFor(id, "the gates before the canary open", 60*time.Second, func(st release.Status) bool {
		for _, g := range st.Gates {
			if g.Before == release.StageCanary && g.State == release.GatePending {
				return false
			}
		}
		return true
	})
	for _, a := range [][2]string{{"security-checklist", "erin"}, {"dashboards-tracing-logs", "heidi"}, {"product-signoff", "judy"}} {
		s.mustCLI("approve", id, "--check", a[0], "--as", a[1])
	}
	want := "held by freeze `dev-freeze` until " + promotion.Local(time.Date(now.Year(), now.Month(), now.Day(), now.Hour()+2, now.Minute(), 0, 0, time.UTC), "UTC")
	st := s.waitFor(id, "the window's hold", 60*time.Second, func(st release.Status) bool { return st.Hold != nil && st.Hold.Kind == release.HoldWindow })
	if st.Stage != release.StageCanary || st.TrafficPercent != 0 || st.Hold.Text != want {
		t.Fatalf("%s %g %%: %+v, want %q", st.Stage, st.TrafficPercent, st.Hold, want)
	}
	if _, errOut, code := s.cli("override", id, "--as", "alice", "--window", "dev-freeze", "--reason", "mine"); code != 4 || !strings.Contains(errOut, "only release managers") {
		t.Fatalf("override by the author: exit %d %q", code, errOut)
	}
	s.mustCLI("override", id, "--as", "rm-ada", "--window", "dev-freeze", "--reason", "fix for incident 7")
	s.mustCLI("override", id, "--as", "rm-bo", "--window", "dev-freeze", "--reason", "agreed")
	final := s.waitFor(id, "the end", 90*time.Second, func(st release.Status) bool { return st.State.Final() })
	if final.State != release.StateSucceeded || final.TrafficPercent != 100 || len(final.Overrides) != 2 {
		t.Fatalf("final %s %g %%: %s; overrides %+v", final.State, final.TrafficPercent, final.Reason, final.Overrides)
	}
	c, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recordHistoryAs(t, c, id, "v10-stop-the-line.json")
}

// versioned writes a copy of the manifest with another version.
func versioned(t *testing.T, manifest, version string) string {
	t.Helper()
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	// beside the original: its evidence paths are relative to the manifest
	out := filepath.Join(filepath.Dir(manifest), "release-"+version+".yaml")
	if err := os.WriteFile(out, []byte(strings.Replace(string(b), "version: 1.4.0", "version: "+version, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
