// Package dora computes the four DORA metrics from shipgate's own releases: how often a change
// reaches all of production, how long a commit takes to get there, how many changes that
// reached production had to be taken back, and how long taking one back took. The rules live
// in Compute (pure, tested on its own); Collect reads the releases from Temporal.
package dora

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shipgate/shipgate/internal/release"
)

// Release is what the metrics need of one release: read from its status and its manifest.
type Release struct {
	ID      string        `json:"id"`
	Service string        `json:"service"`
	Version string        `json:"version"`
	State   release.State `json:"state"`
	// CommitTime is the manifest's commitTime; zero when it names none (no lead time then).
	CommitTime time.Time `json:"commitTime,omitzero"`
	// ProductionEnv is the environment the manifest's production stage deploys to.
	ProductionEnv string `json:"productionEnvironment"`
	// Deployments are the status's traffic changes, in order.
	Deployments []release.Deployment `json:"deployments,omitempty"`
	// StoppedAt is when the release's way out began: the accepted rollback, abort, failure or
	// cancellation in its audit log (zero if none).
	StoppedAt time.Time `json:"stoppedAt,omitzero"`
	// EndedAt is when the workflow closed (zero while it runs).
	EndedAt time.Time `json:"endedAt,omitzero"`
}

// stopActions are the audit actions that begin a release's way out.
var stopActions = []string{release.SignalRollback, release.SignalAbort, "fail", "cancel"}

// FromStatus builds the Release of a status and its manifest.
func FromStatus(st release.Status, m release.Manifest, endedAt time.Time) Release {
	r := Release{ID: st.ID, Service: st.Service, Version: st.Version, State: st.State,
		ProductionEnv: m.Environment(release.StageProduction), EndedAt: endedAt}
	if t, ok := m.CommittedAt(); ok {
		r.CommitTime = t
	}
	for _, d := range st.Deployments {
		if d.Kind == "service" {
			r.Deployments = append(r.Deployments, d)
		}
	}
	for _, a := range st.Audit {
		if a.Accepted && slices.Contains(stopActions, a.Action) {
			r.StoppedAt = a.At
			break
		}
	}
	return r
}

// reachedProduction is when the release first took production traffic (its canary): zero if
// it never did.
func (r Release) reachedProduction() time.Time {
	for _, d := range r.Deployments {
		if d.Environment == r.ProductionEnv && d.Version == r.Version && d.Percent > 0 {
			return d.At
		}
	}
	return time.Time{}
}

// fullyDeployed is when the release first served 100 % of production: zero if it never did.
func (r Release) fullyDeployed() time.Time {
	for _, d := range r.Deployments {
		if d.Environment == r.ProductionEnv && d.Version == r.Version && d.Percent >= 100 {
			return d.At
		}
	}
	return time.Time{}
}

// failed says whether a release that reached production was taken back or broke there: it
// ended rolled back, aborted (the way back returned its traffic) or failed.
func (r Release) failed() bool {
	switch r.State {
	case release.StateRolledBack, release.StateAborted, release.StateFailed:
		return !r.reachedProduction().IsZero()
	}
	return false
}

// restoredAt is when production was back on the previous version after a failed change: the
// way back's production traffic change to 0 % of this version after it stopped; else, the end
// of the release.
func (r Release) restoredAt() time.Time {
	for _, d := range r.Deployments {
		if d.Environment == r.ProductionEnv && d.Percent == 0 && !d.At.Before(r.StoppedAt) {
			return d.At
		}
	}
	return r.EndedAt
}

// Durations summarises a set of durations: DORA reports the median.
type Durations struct {
	N      int           `json:"n"`
	Median time.Duration `json:"median"`
	P90    time.Duration `json:"p90"`
	Max    time.Duration `json:"max"`
}

func summarise(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	return Durations{N: len(ds), Median: quantile(ds, 0.5), P90: quantile(ds, 0.9), Max: ds[len(ds)-1]}
}

// quantile of sorted ds, by the nearest-rank method (an observed value, never interpolated).
func quantile(ds []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(ds))+0.999999) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

// Metrics are the four metrics of one service (or of all, Service "").
type Metrics struct {
	Service string `json:"service,omitempty"`
	// Deployments reached 100 % of production inside the period; PerDay is their rate.
	Deployments int     `json:"deployments"`
	PerDay      float64 `json:"deploymentsPerDay"`
	// LeadTime is commit time → 100 % of production, of the deployments whose manifest names
	// its commitTime (WithoutCommitTime counts the others).
	LeadTime          Durations `json:"leadTime"`
	WithoutCommitTime int       `json:"withoutCommitTime"`
	// ReachedProduction counts releases that ended in the period (or run still) after taking
	// production traffic; Failed those of them rolled back, aborted or failed;
	// ChangeFailureRate is Failed / ReachedProduction of the ended ones (0 when none ended).
	ReachedProduction int     `json:"reachedProduction"`
	Failed            int     `json:"failed"`
	ChangeFailureRate float64 `json:"changeFailureRate"`
	// TimeToRestore is the way out's start → production back on the previous version, of the
	// failed changes.
	TimeToRestore Durations `json:"timeToRestore"`
}

// Report is the metrics over a period, overall and per service.
type Report struct {
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	All      Metrics   `json:"all"`
	Services []Metrics `json:"services"`
}

// Compute applies the rules to the releases over [since, until]: a deployment counts when it
// reached 100 % inside the period; a change counts towards the failure rate when it ended
// inside the period after reaching production.
func Compute(rs []Release, since, until time.Time) Report {
	rep := Report{Since: since, Until: until}
	by := map[string][]Release{}
	for _, r := range rs {
		by[r.Service] = append(by[r.Service], r)
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rep.Services = append(rep.Services, compute(n, by[n], since, until))
	}
	rep.All = compute("", rs, since, until)
	return rep
}

func in(t, since, until time.Time) bool { return !t.IsZero() && !t.Before(since) && !t.After(until) }

func compute(service string, rs []Release, since, until time.Time) Metrics {
	m := Metrics{Service: service}
	var lead, restore []time.Duration
	ended := 0
	for _, r := range rs {
		if at := r.fullyDeployed(); in(at, since, until) {
			m.Deployments++
			if r.CommitTime.IsZero() || r.CommitTime.After(at) {
				m.WithoutCommitTime++
			} else {
				lead = append(lead, at.Sub(r.CommitTime))
			}
		}
		if r.reachedProduction().IsZero() {
			continue
		}
		if r.EndedAt.IsZero() {
			if r.reachedProduction().Before(until) {
				m.ReachedProduction++
			}
			continue
		}
		if !in(r.EndedAt, since, until) {
			continue
		}
		m.ReachedProduction++
		ended++
		if r.failed() {
			m.Failed++
			if at := r.restoredAt(); !r.StoppedAt.IsZero() && !at.Before(r.StoppedAt) {
				restore = append(restore, at.Sub(r.StoppedAt))
			}
		}
	}
	if days := until.Sub(since).Hours() / 24; days > 0 {
		m.PerDay = float64(m.Deployments) / days
	}
	if ended > 0 {
		m.ChangeFailureRate = float64(m.Failed) / float64(ended)
	}
	m.LeadTime, m.TimeToRestore = summarise(lead), summarise(restore)
	return m
}

// ParseSince reads the start of a report's period: a duration back from now (720h, or days as
// 30d), a date (2026-11-01, UTC) or an RFC 3339 time. The error says which forms it takes.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 && n <= 36500 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil && !t.After(now) {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil && !t.After(now) {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration back from now (30d, 720h), a date (2026-11-01) or an RFC 3339 time, not in the future", s)
}
