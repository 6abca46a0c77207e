package analysis

import (
	"strings"
	"testing"
	"time"
)

func TestEvidenceNamesRuleValuesAndQueries(t *testing.T) {
	m := Metric{Name: "err", Query: "q", BaselineQuery: "b", Threshold: f(0.05), Direction: Max,
		MinRequests: &RequestGuard{Query: "r", Min: 10}, Compare: &Compare{}}
	v := Judge(m, Observation{
		Query: "sum(rate(x{version=\"2\"}[1m]))\n  / sum(rate(y[1m]))", BaselineQuery: "sum(rate(x{version=\"1\"}[1m]))",
		Canary: []float64{0.12}, Requests: f(240), CanarySamples: []float64{0.1, 0.12, 0.11}, BaselineSamples: []float64{0.01, 0.02, 0.01},
	})
	got := v.Evidence()
	for _, want := range []string{
		"err fail: canary 0.12 > max 0.05", "canary=0.12", "baseline median=0.01 (n=3)", "requests=240",
		"threshold max 0.05", `query: sum(rate(x{version="2"}[1m])) / sum(rate(y[1m]))`, `baseline query: sum(rate(x{version="1"}[1m]))`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("evidence %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "\n") {
		t.Errorf("evidence spans lines: %q", got)
	}
	if d := v.Details(); strings.HasPrefix(d, "err") || !strings.Contains(d, "query:") {
		t.Errorf("details %q", d)
	}
}

func TestRunReasonCarriesValuesAndQuery(t *testing.T) {
	spec := Spec{Interval: "1m", Metrics: []Metric{{Name: "err", Query: "q", Threshold: f(0.05), Direction: Max}}}
	run := NewRun(spec, 3)
	d := run.Record(IntervalResult{Verdicts: []Verdict{Judge(spec.Metrics[0], Observation{Query: "rate(e[1m])", Canary: []float64{0.3}})}})
	if d.Action != Rollback || !strings.Contains(d.Reason, "canary=0.3") || !strings.Contains(d.Reason, "query: rate(e[1m])") {
		t.Fatalf("decision %+v: want rollback naming the value and the query", d)
	}
}

func TestTimelineIsRunLengthEncodedAndBounded(t *testing.T) {
	var s MetricState
	for range 1799 {
		s.track(Verdict{Outcome: Pass, Canary: []float64{0.01}, Direction: Max})
	}
	s.track(Verdict{Outcome: Fail, Canary: []float64{0.3, 0.2}, Direction: Max})
	s.track(Verdict{Outcome: Inconclusive, Error: true})
	if got := s.TimelineString(); got != "pass×1799 fail×1 error×1" {
		t.Fatalf("timeline %q", got)
	}
	if *s.Low != 0.01 || *s.High != 0.3 {
		t.Fatalf("range %v…%v, want 0.01…0.3 (the worst value of each interval)", *s.Low, *s.High)
	}
	var flap MetricState
	for i := range 1000 {
		o := Pass
		if i%2 == 1 {
			o = Fail
		}
		flap.track(Verdict{Outcome: o})
	}
	if len(flap.Timeline) != maxSpans || flap.Earlier != 1000-maxSpans {
		t.Fatalf("flapping timeline: %d spans, %d earlier", len(flap.Timeline), flap.Earlier)
	}
	total := flap.Earlier
	for _, sp := range flap.Timeline {
		total += sp.N
	}
	if total != 1000 || !strings.HasPrefix(flap.TimelineString(), "(952 earlier) pass×1 fail×1") {
		t.Fatalf("every interval must be accounted for: %d, %q", total, flap.TimelineString()[:40])
	}
}

func TestIntervalRecordAndSummary(t *testing.T) {
	spec := Spec{Interval: "1m", Metrics: []Metric{
		{Name: "err", Query: "q", Threshold: f(0.05), Direction: Max, FailureLimit: 5},
		{Name: "lat", Query: "l", Threshold: f(0.5), Direction: Max, DryRun: true},
	}}
	run := NewRun(spec, 10)
	res := IntervalResult{Verdicts: []Verdict{
		Judge(spec.Metrics[0], Observation{Query: "q", Canary: []float64{0.2}}),
		Judge(spec.Metrics[1], Observation{Query: "l"}),
	}, FiringAlerts: nil}
	d := run.Record(res)
	r := NewIntervalRecord(run.Intervals, time.Date(2025, 1, 2, 10, 4, 0, 0, time.UTC), res, d)
	if got := r.String(); got != "#1 10:04:00 err fail 0.2, lat inconclusive → continue" {
		t.Fatalf("record %q", got)
	}
	sum := run.Metrics[0].Summary()
	for _, want := range []string{"err: 0 pass, 1 fail, 0 inconclusive, 0 error", "timeline fail×1", "canary 0.2…0.2", "last: err fail: canary 0.2 > max 0.05", "query: q"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary %q lacks %q", sum, want)
		}
	}
	if !strings.Contains(run.Metrics[1].Summary(), "(dry run)") {
		t.Errorf("dry-run summary %q", run.Metrics[1].Summary())
	}
}
