package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke runs the benchmark with five releases against a dev server of its own and
// the real worker binary, so that the program cannot rot: every release must reach the soak
// and every figure of the report must have been measured.
func TestBenchSmoke(t *testing.T) {
	rep, out := smoke(t, 4*time.Minute, config{N: 5, Concurrency: 2, Workers: 1, Sample: 2, Memory: true, Timeout: 2 * time.Minute})
	switch {
	case rep.InSoak != 5 || rep.Failures != 0 || rep.StartErrors != 0 || rep.Refusals != 0:
		t.Errorf("in soak %d, failures %d, start errors %d, refusals %d; want 5, 0, 0, 0", rep.InSoak, rep.Failures, rep.StartErrors, rep.Refusals)
	case rep.WorkerPeakMiB <= 0 || rep.ServerPeakMiB <= 0 || rep.WorkerCPUSec <= 0 || rep.ServerCPUSec <= 0:
		t.Errorf("process figures not measured: %+v", rep)
	case rep.ActRun <= 0 || rep.WFTasks <= 0:
		t.Errorf("activity tasks run or workflow tasks' schedule-to-start not read from the worker's metrics: %+v", rep)
	case rep.Sampled != 2 || rep.G1.LocalActs == 0 || rep.G3.Activities == 0 || rep.G1.Updates != 2 || rep.G3.Updates != 1:
		t.Errorf("per-release cost: sampled %d, G1 %+v, G3 %+v; want local activities in G1 (policy, line, checks), the traffic activities in G3 and the 2 + 1 signoff updates", rep.Sampled, rep.G1, rep.G3)
	case rep.Deploys < 10: // staging and testnet, per release
		t.Errorf("traffic webhook called %d times, want at least 10", rep.Deploys)
	}
	if !strings.Contains(out, "in the testnet soak: 5/5") {
		t.Errorf("report:\n%s", out)
	}
}

// smoke runs the benchmark within budget and returns its report, printed too.
func smoke(t *testing.T, budget time.Duration, cfg config) (*report, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	var progress bytes.Buffer
	cfg.Progress = &progress
	rep, err := run(ctx, cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var out bytes.Buffer
	rep.print(&out)
	t.Log("\n" + out.String())
	return rep, out.String()
}

// TestBenchSmokeCluster runs it on the production-shaped cluster with three releases: the
// Temporal server and PostgreSQL measured apart, PostgreSQL's counters read, a dynamic config
// value passed through and the server's CPU profile written.
func TestBenchSmokeCluster(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "server.pprof")
	rep, _ := smoke(t, 6*time.Minute, config{N: 3, Concurrency: 2, Workers: 1, Sample: 1, Cluster: true, Timeout: 3 * time.Minute,
		Dynamic: []string{"system.enableActivityEagerExecution=false"}, Profile: prof, ProfileFor: 2 * time.Second})
	switch {
	case rep.InSoak != 3 || rep.Failures != 0:
		t.Errorf("in soak %d, failures %d; want 3, 0", rep.InSoak, rep.Failures)
	case rep.TemporalCPUSec <= 0 || rep.PostgresCPUSec <= 0:
		t.Errorf("Temporal %.2f s, PostgreSQL %.2f s of CPU: not measured apart", rep.TemporalCPUSec, rep.PostgresCPUSec)
	case rep.PG == nil || rep.PG.Commits["temporal"] <= 0 || rep.PG.Rows["temporal.executions"] <= 0:
		t.Errorf("PostgreSQL per release not read: %+v", rep.PG)
	case rep.ActRun <= 0 || rep.ActTasks != rep.ActRun:
		// eager activities switched off: every activity came through matching
		t.Errorf("activities run %.0f, through matching %.0f: the dynamic config value did not reach the server", rep.ActRun, rep.ActTasks)
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("server profile: %v", err)
	}
}
