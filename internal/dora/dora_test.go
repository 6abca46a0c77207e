package dora

import (
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/release"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func dep(env, version string, pct float64, h float64) release.Deployment {
	return release.Deployment{Kind: "service", Environment: env, Version: version, Percent: pct, At: at(h)}
}

// A succeeded release, one rolled back from its canary, one aborted before production, one
// still in its canary and one outside the period, over ten days.
func TestCompute(t *testing.T) {
	rs := []Release{
		{ID: "a", Service: "pay", Version: "1.1.0", State: release.StateSucceeded, ProductionEnv: "production", CommitTime: at(10),
			Deployments: []release.Deployment{dep("staging", "1.1.0", 100, 11), dep("production", "1.1.0", 5, 20), dep("production", "1.1.0", 100, 40)}, EndedAt: at(40)},
		{ID: "b", Service: "pay", Version: "1.2.0", State: release.StateRolledBack, ProductionEnv: "production", CommitTime: at(50),
			Deployments: []release.Deployment{dep("production", "1.2.0", 5, 60), dep("production", "1.2.0", 0, 60.5)}, StoppedAt: at(60.25), EndedAt: at(61)},
		{ID: "c", Service: "pay", Version: "1.3.0", State: release.StateAborted, ProductionEnv: "production",
			Deployments: []release.Deployment{dep("staging", "1.3.0", 100, 70), dep("staging", "1.3.0", 0, 71)}, StoppedAt: at(71), EndedAt: at(71)},
		{ID: "d", Service: "web", Version: "2.0.0", State: release.StateRunning, ProductionEnv: "prod",
			Deployments: []release.Deployment{dep("prod", "2.0.0", 2, 100)}},
		{ID: "e", Service: "web", Version: "1.9.0", State: release.StateSucceeded, ProductionEnv: "prod",
			Deployments: []release.Deployment{dep("prod", "1.9.0", 100, -30)}, EndedAt: at(-30)},
		{ID: "f", Service: "web", Version: "1.9.1", State: release.StateSucceeded, ProductionEnv: "prod",
			Deployments: []release.Deployment{dep("prod", "1.9.1", 100, 30)}, EndedAt: at(30)},
	}
	rep := Compute(rs, t0, t0.AddDate(0, 0, 10))
	if len(rep.Services) != 2 || rep.Services[0].Service != "pay" || rep.Services[1].Service != "web" {
		t.Fatalf("services %+v", rep.Services)
	}
	pay, web, all := rep.Services[0], rep.Services[1], rep.All
	if pay.Deployments != 1 || pay.PerDay != 0.1 || pay.LeadTime.N != 1 || pay.LeadTime.Median != 30*time.Hour {
		t.Errorf("pay deployments/lead time: %+v", pay)
	}
	// b reached production and was rolled back; c never reached it (aborted in staging)
	if pay.ReachedProduction != 2 || pay.Failed != 1 || pay.ChangeFailureRate != 0.5 {
		t.Errorf("pay change failure: %+v", pay)
	}
	if pay.TimeToRestore.N != 1 || pay.TimeToRestore.Median != 15*time.Minute {
		t.Errorf("pay time to restore %+v", pay.TimeToRestore)
	}
	// e ended before the period; d runs in its canary (counted as reaching production, not ended)
	if web.Deployments != 1 || web.WithoutCommitTime != 1 || web.LeadTime.N != 0 || web.ReachedProduction != 2 || web.ChangeFailureRate != 0 {
		t.Errorf("web %+v", web)
	}
	if all.Deployments != 2 || all.Failed != 1 || all.ChangeFailureRate != 1.0/3 || all.TimeToRestore.N != 1 {
		t.Errorf("all %+v", all)
	}
}

// A failed change with no 0 % record restores at the release's end; a commit time after the
// deployment is no lead time.
func TestComputeEdges(t *testing.T) {
	rs := []Release{
		{ID: "a", Service: "s", Version: "1.0.1", State: release.StateFailed, ProductionEnv: "production",
			Deployments: []release.Deployment{dep("production", "1.0.1", 25, 5)}, StoppedAt: at(6), EndedAt: at(8)},
		{ID: "b", Service: "s", Version: "1.0.2", State: release.StateSucceeded, ProductionEnv: "production", CommitTime: at(30),
			Deployments: []release.Deployment{dep("production", "1.0.2", 100, 20)}, EndedAt: at(20)},
	}
	m := Compute(rs, t0, at(48)).All
	if m.TimeToRestore.Median != 2*time.Hour || m.WithoutCommitTime != 1 || m.LeadTime.N != 0 {
		t.Fatalf("%+v", m)
	}
	if empty := Compute(nil, t0, at(24)).All; empty.Deployments != 0 || empty.ChangeFailureRate != 0 {
		t.Fatalf("no releases: %+v", empty)
	}
}

func TestFromStatus(t *testing.T) {
	st := release.Status{ID: "release/s/1.0.1", Service: "s", Version: "1.0.1", State: release.StateRolledBack,
		Deployments: []release.Deployment{{Kind: "contract", Environment: "testnet"}, dep("live", "1.0.1", 5, 1)},
		Audit: []release.AuditEntry{{Action: "approve", Accepted: true, At: at(0)}, {Action: release.SignalRollback, Accepted: false, At: at(1)},
			{Action: release.SignalRollback, Accepted: true, At: at(2)}}}
	m := release.Manifest{CommitTime: "2026-10-31T23:00:00Z", Targets: map[release.Stage]release.Target{release.StageProduction: {Environment: "live"}}}
	r := FromStatus(st, m, at(3))
	if r.ProductionEnv != "live" || len(r.Deployments) != 1 || !r.StoppedAt.Equal(at(2)) || !r.CommitTime.Equal(at(-1)) || !r.EndedAt.Equal(at(3)) {
		t.Fatalf("%+v", r)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"30d": now.AddDate(0, 0, -30), "36h": now.Add(-36 * time.Hour), "2026-11-01": t0, "2026-11-30T08:00:00Z": time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
	} {
		if got, err := ParseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0d", "-3h", "yesterday", "2027-01-01", "30", "d"} {
		if _, err := ParseSince(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"30d", "720h", "2026-11-01", "2026-11-30T08:00:00+01:00", "1h30m", "99999d"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSince(s, now)
		if err == nil && got.After(now) {
			t.Fatalf("%q: %v is after now", s, got)
		}
	})
}
