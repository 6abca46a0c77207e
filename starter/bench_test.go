package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/release"
)

// BenchmarkCLIApproveToStatus measures, against the real dev server and worker, the time from
// running `shipgate approve` to the approval being visible in `status` (the CLI returns only
// once the workflow's verdict is in the status). Run with -benchtime=100x; reports p50/p99.
func BenchmarkCLIApproveToStatus(b *testing.B) {
	s := newStack(b)
	// one reviewers group large enough that the check never completes during the benchmark
	var members strings.Builder
	for i := range b.N + 3 {
		fmt.Fprintf(&members, "      - {id: reviewer-%d}\n", i)
	}
	manifest, policy := s.writeRelease("1h",
		"  reviewers:\n    members:\n", "  reviewers:\n    members:\n"+members.String(),
		"group: reviewers, approvals: 2", fmt.Sprintf("group: reviewers, approvals: %d", b.N+5))
	id := strings.TrimSpace(s.mustCLI("start", "-f", manifest, "--policy", policy, "--as", "rm-ada"))
	s.waitFor(id, "G1 waiting", time.Minute, func(st release.Status) bool { return st.Gates[0].State == release.GateWaiting })
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		s.mustCLI("approve", id, "--check", "peer-review", "--as", fmt.Sprintf("reviewer-%d", i))
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	got := -1
	for _, c := range s.status(id).Gates[0].Checks {
		if c.Name == "peer-review" {
			got = len(c.Approvals)
		}
	}
	if got != b.N {
		b.Fatalf("%d approvals of peer-review visible, want %d", got, b.N)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
}
