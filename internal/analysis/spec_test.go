package analysis

import (
	"os"
	"strings"
	"testing"
)

func TestLoadSpecExample(t *testing.T) {
	data, err := os.ReadFile("testdata/analysis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSpec("testdata/analysis.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Metrics) != 2 || s.Interval != "1m" || s.Alerts["severity"] != "page" {
		t.Fatalf("spec = %+v", s)
	}
	m := s.Metrics[0]
	if *m.Threshold != 0.01 || m.Compare.Margin != 0.1 || m.MinRequests.Min != 100 || m.ErrorLimit() != 4 || m.FailureLimit != 1 {
		t.Fatalf("metric = %+v", m)
	}
	if !s.Metrics[1].DryRun || s.Metrics[1].ErrorLimit() != DefaultConsecutiveErrorLimit {
		t.Fatalf("metric = %+v", s.Metrics[1])
	}
}

func TestLoadSpecErrors(t *testing.T) {
	const ok = "  - name: e\n    query: up\n    threshold: 1\n    direction: max\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", "interval: 1m\nmetrics:\n" + ok + "    treshold: 2\n", `f.yaml: yaml: unmarshal errors:
  line 7: field treshold not found in type analysis.Metric`},
		{"not yaml", "interval: [", "f.yaml: yaml:"},
		{"no interval", "metrics:\n" + ok, "f.yaml: interval: required"},
		{"bad interval", "interval: 1 minute\nmetrics:\n" + ok, `interval: "1 minute" is not a Prometheus duration`},
		{"no metrics", "interval: 1m\n", "metrics: at least one metric is required"},
		{"duplicate name", "interval: 1m\nmetrics:\n" + ok + ok, `metrics[1].name: "e" already used by metrics[0]`},
		{"no query", "interval: 1m\nmetrics:\n  - name: e\n    threshold: 1\n    direction: max\n", "metrics[0].query: required"},
		{"bad template", "interval: 1m\nmetrics:\n  - name: e\n    query: '{{.Servce}}'\n    threshold: 1\n    direction: max\n", `metrics[0].query: template:`},
		{"bad direction", "interval: 1m\nmetrics:\n  - name: e\n    query: up\n    threshold: 1\n    direction: up\n", `metrics[0].direction: must be "max" or "min", got "up"`},
		{"nothing decides", "interval: 1m\nmetrics:\n  - name: e\n    query: up\n    direction: max\n", "metrics[0].threshold: required unless compare is set"},
		{"NaN threshold", "interval: 1m\nmetrics:\n  - name: e\n    query: up\n    threshold: .nan\n    direction: max\n", "metrics[0].threshold: must be a finite number"},
		{"compare without baseline", "interval: 1m\nmetrics:\n  - name: e\n    query: up\n    direction: max\n    compare: {alpha: 0.05}\n", "metrics[0].baselineQuery: required by compare"},
		{"alpha out of range", "interval: 1m\nmetrics:\n  - name: e\n    query: up\n    baselineQuery: up\n    direction: max\n    compare: {alpha: 1.5}\n", "metrics[0].compare.alpha: must be in (0, 1), got 1.5"},
		{"negative margin", "interval: 1m\nmetrics:\n  - name: e\n    query: up\n    baselineQuery: up\n    direction: max\n    compare: {margin: -1}\n", "metrics[0].compare.margin: must be a finite number >= 0"},
		{"bad step", "interval: 1m\nmetrics:\n  - name: e\n    query: up\n    baselineQuery: up\n    direction: max\n    compare: {step: 0s}\n", `metrics[0].compare.step: "0s" must be positive`},
		{"guard without query", "interval: 1m\nmetrics:\n" + ok + "    minRequests: {min: 5}\n", "metrics[0].minRequests.query: required"},
		{"negative limits", "interval: 1m\nmetrics:\n" + ok + "    failureLimit: -1\n    inconclusiveLimit: -2\n    consecutiveErrorLimit: -3\n    minSamples: -1\n",
			"metrics[0].minSamples: must be >= 0, got -1\nmetrics[0].failureLimit: must be >= 0, got -1\nmetrics[0].inconclusiveLimit: must be >= 0, got -2\nmetrics[0].consecutiveErrorLimit: must be >= 0, got -3"},
		{"bad alert label", "interval: 1m\nalerts: {'a-b': x}\nmetrics:\n" + ok, "alerts.a-b: not a valid label name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadSpec("f.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant containing %q", err, tc.want)
			}
		})
	}
}

// FuzzLoadSpec: any input either loads into a spec that validates, or gives an error naming
// the file; it never panics, and a loaded spec judges garbage observations without panicking.
func FuzzLoadSpec(f *testing.F) {
	seed, err := os.ReadFile("testdata/analysis.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("interval: 1m\nmetrics:\n  - {name: e, query: up, threshold: 1, direction: min}\n"))
	f.Add([]byte("interval: 1m\nmetrics:\n  - {name: e, query: up, baselineQuery: up, direction: max, compare: {alpha: 0.5}}\n"))
	f.Add([]byte("interval: [\n"))
	f.Add([]byte("metrics: {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := LoadSpec("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("loaded spec does not validate: %v", err)
		}
		run := NewRun(s, 1)
		res := IntervalResult{}
		for _, m := range s.Metrics {
			if _, err := Render(m.Query, Vars{Service: "s", Version: "v", BaselineVersion: "b", Stage: "c", Interval: "1m"}.Map()); err != nil {
				t.Fatalf("validated query does not render: %v", err)
			}
			res.Verdicts = append(res.Verdicts, Judge(m, Observation{Canary: []float64{nan, 1}, CanarySamples: []float64{1, 2}, BaselineSamples: []float64{inf}}))
		}
		if d := run.Record(res); d.Action == PromoteEligible {
			t.Fatalf("promote-eligible on NaN/Inf observations: %+v", d)
		}
	})
}
