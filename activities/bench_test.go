package activities

import (
	"context"
	"testing"

	"github.com/shipgate/shipgate/internal/release"
)

// BenchmarkDemoG1Checks is the time the demo's whole set of automated G1 checks takes: read
// each evidence file, digest it, parse it and judge it (sequentially; the workflow runs them in
// parallel).
func BenchmarkDemoG1Checks(b *testing.B) {
	in, pol, err := release.Load(demoEvidence(b, "../release.yaml"), demoEvidence(b, "../../../policies/demo.yaml"), func(release.CheckKind, string, map[string]string) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	g := &Gates{}
	var reqs []release.CheckRequest
	for _, c := range pol.Gates[0].Checks {
		if c.Kind == release.KindEvidence {
			reqs = append(reqs, release.CheckRequest{Gate: "G1", Check: c, Evidence: in.Manifest.Evidence[c.Name], Version: in.Manifest.Version})
		}
	}
	b.ResetTimer()
	for range b.N {
		for _, r := range reqs {
			res, err := g.evaluate(context.Background(), r)
			if err != nil || res.Outcome != release.OutcomePass {
				b.Fatalf("%s: %+v %v", r.Check.Name, res, err)
			}
		}
	}
	b.ReportMetric(float64(len(reqs)), "checks")
}
