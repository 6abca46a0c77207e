package activities

import (
	"context"
	"testing"

	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

// BenchmarkDemoG1Checks is the time the demo's whole set of automated G1 checks takes: read
// each evidence blob from a local store, verify its digest, parse it and judge it (sequentially; the workflow runs them in
// parallel).
func BenchmarkDemoG1Checks(b *testing.B) {
	st := evstore.Dir{Root: b.TempDir()}
	in, pol, err := evstore.Load(context.Background(), st, demoEvidence(b, "../release.yaml"), demoEvidence(b, "../../../policies/demo.yaml"), func(release.CheckKind, string, map[string]string) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	g := &Gates{Store: st}
	var reqs []release.CheckRequest
	for _, c := range pol.Gates[0].Checks {
		if c.Kind == release.KindEvidence {
			reqs = append(reqs, release.CheckRequest{Gate: "G1", Check: c, Blobs: in.Manifest.Blobs[c.Name], Version: in.Manifest.Version})
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
