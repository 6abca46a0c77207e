package analysis

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func f(x float64) *float64 { return &x }

var (
	nan  = math.NaN()
	inf  = math.Inf(1)
	low  = []float64{1, 2, 3, 4, 5}
	high = []float64{6, 7, 8, 9, 10}
)

func TestJudge(t *testing.T) {
	maxT := Metric{Name: "err", Threshold: f(0.05), Direction: Max}
	minT := Metric{Name: "ok", Threshold: f(0.99), Direction: Min}
	guarded := maxT
	guarded.MinRequests = &RequestGuard{Query: "q", Min: 100}
	three := maxT
	three.MinSamples = 3
	cmpOnly := Metric{Name: "lat", Direction: Max, BaselineQuery: "b", Compare: &Compare{Margin: 0.1}, MinSamples: 5}
	cmpMin := cmpOnly
	cmpMin.Direction = Min
	both := cmpOnly
	both.Threshold = f(0.5)
	dry := maxT
	dry.DryRun = true

	tests := []struct {
		name    string
		m       Metric
		o       Observation
		want    Outcome
		isError bool
		rule    string // substring of Rule
	}{
		{"provider error", maxT, Observation{Err: errors.New("connection refused")}, Inconclusive, true, "measurement failed: connection refused"},
		{"empty result", maxT, Observation{}, Inconclusive, false, "no data"},
		{"NaN only", maxT, Observation{Canary: []float64{nan}}, Inconclusive, false, "non-finite"},
		{"+Inf only", maxT, Observation{Canary: []float64{inf}}, Inconclusive, false, "non-finite"},
		{"max pass", maxT, Observation{Canary: []float64{0.01}}, Pass, false, "canary 0.01 <= max 0.05"},
		{"max pass at threshold", maxT, Observation{Canary: []float64{0.05}}, Pass, false, "<= max"},
		{"max fail", maxT, Observation{Canary: []float64{0.12}}, Fail, false, "canary 0.12 > max 0.05"},
		{"max fail worst series", maxT, Observation{Canary: []float64{0.01, 0.2}}, Fail, false, "canary 0.2 > max"},
		{"min pass", minT, Observation{Canary: []float64{0.999}}, Pass, false, ">= min 0.99"},
		{"min fail", minT, Observation{Canary: []float64{0.9}}, Fail, false, "canary 0.9 < min 0.99"},
		{"NaN series beside passing one", maxT, Observation{Canary: []float64{0.01, nan}}, Inconclusive, false, "1 series were NaN/Inf"},
		{"NaN series beside failing one", maxT, Observation{Canary: []float64{0.3, nan}}, Fail, false, "> max"},
		{"too few samples", three, Observation{Canary: []float64{0.01, 0.01}}, Inconclusive, false, "2 samples < minSamples 3"},
		{"enough samples", three, Observation{Canary: []float64{0.01, 0.01, 0.02}}, Pass, false, "<= max"},
		{"guard no value", guarded, Observation{RequestsQuery: "q", Canary: []float64{0}}, Inconclusive, false, `request guard "q" returned no value`},
		{"guard NaN", guarded, Observation{Requests: f(nan), Canary: []float64{0}}, Inconclusive, false, "returned no value"},
		{"guard too little traffic", guarded, Observation{Requests: f(12), Canary: []float64{0}}, Inconclusive, false, "canary served 12 requests < minRequests 100"},
		{"guard enough traffic", guarded, Observation{Requests: f(500), Canary: []float64{0}}, Pass, false, "<= max"},
		{"compare worse canary", cmpOnly, Observation{Canary: []float64{8}, CanarySamples: high, BaselineSamples: low}, Fail, false, "significantly worse than baseline"},
		{"compare better canary", cmpOnly, Observation{Canary: []float64{3}, CanarySamples: low, BaselineSamples: high}, Pass, false, "no significant difference"},
		{"compare interleaved", cmpOnly, Observation{Canary: []float64{5}, CanarySamples: []float64{1, 3, 5, 7, 9}, BaselineSamples: []float64{2, 4, 6, 8, 10}}, Pass, false, "no significant difference"},
		{"compare within margin", cmpOnly, Observation{Canary: []float64{10.3}, CanarySamples: []float64{10.1, 10.2, 10.3, 10.4, 10.5}, BaselineSamples: []float64{9.5, 9.6, 9.7, 9.8, 9.9}}, Pass, false, "difference within margin"},
		{"compare zero baseline, worse canary", cmpOnly, Observation{Canary: []float64{0.01}, CanarySamples: []float64{0.01, 0.02, 0.01, 0.03, 0.02}, BaselineSamples: []float64{0, 0, 0, 0, 0}}, Fail, false, "baseline median 0"},
		{"compare zero baseline and zero canary", cmpOnly, Observation{Canary: []float64{0}, CanarySamples: []float64{0, 0, 0, 0, 0}, BaselineSamples: []float64{0, 0, 0, 0, 0}}, Pass, false, "identical"},
		{"compare too few baseline samples", cmpOnly, Observation{Canary: []float64{1}, CanarySamples: high, BaselineSamples: []float64{1, 2}}, Inconclusive, false, "canary had 5, baseline 2"},
		{"compare NaN samples dropped", cmpOnly, Observation{Canary: []float64{1}, CanarySamples: high, BaselineSamples: []float64{nan, nan, nan, nan, nan}}, Inconclusive, false, "baseline 0"},
		{"compare min direction worse", cmpMin, Observation{Canary: []float64{1}, CanarySamples: low, BaselineSamples: high}, Fail, false, "significantly worse"},
		{"threshold fail beats passing comparison", both, Observation{Canary: []float64{0.9}, CanarySamples: low, BaselineSamples: low}, Fail, false, "canary 0.9 > max 0.5 (comparison, not deciding: no significant difference"},
		{"threshold pass, comparison fails", both, Observation{Canary: []float64{0.2}, CanarySamples: []float64{0.2, 0.21, 0.22, 0.2, 0.2}, BaselineSamples: []float64{0, 0, 0, 0, 0}}, Fail, false, "significantly worse"},
		{"threshold pass, comparison passes", both, Observation{Canary: []float64{0.2}, CanarySamples: low, BaselineSamples: high}, Pass, false, "canary 0.2 <= max 0.5; no significant difference"},
		{"dry run still judged", dry, Observation{Canary: []float64{0.5}}, Fail, false, "(dry run: reported, not deciding)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(tc.m, tc.o)
			if v.Outcome != tc.want || v.Error != tc.isError || !strings.Contains(v.Rule, tc.rule) {
				t.Fatalf("Judge = %s error=%v rule %q; want %s error=%v rule containing %q", v.Outcome, v.Error, v.Rule, tc.want, tc.isError, tc.rule)
			}
			if v.DryRun != tc.m.DryRun || v.Metric != tc.m.Name {
				t.Fatalf("verdict lost metric identity: %+v", v)
			}
			// Every verdict must cross Temporal as JSON, NaN and Inf inputs included.
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("verdict does not encode: %v", err)
			}
		})
	}
}

// TestMannWhitneyKnownOutcomes pins the p-values of the test we rely on: for fully separated
// samples of 5 the exact one-sided p is 1/C(10,5) = 1/252.
func TestMannWhitneyKnownOutcomes(t *testing.T) {
	m := Metric{Name: "x", Direction: Max, Compare: &Compare{}, MinSamples: 5}
	tests := []struct {
		name            string
		canary, base    []float64
		wantP           float64
		tolerance       float64
		wantSignificant bool
	}{
		{"separated, canary higher", high, low, 1.0 / 252, 1e-9, true},
		{"separated, canary lower", low, high, 1, 1e-9, false},
		// P(U >= 10) under H0 by enumerating all C(10,5) rank subsets: 183/252.
		{"interleaved", []float64{1, 3, 5, 7, 9}, []float64{2, 4, 6, 8, 10}, 183.0 / 252, 1e-9, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(m, Observation{Canary: []float64{1}, CanarySamples: tc.canary, BaselineSamples: tc.base})
			if v.PValue == nil {
				t.Fatalf("no p-value: %+v", v)
			}
			if math.Abs(*v.PValue-tc.wantP) > tc.tolerance {
				t.Fatalf("p = %v, want %v", *v.PValue, tc.wantP)
			}
			if (v.Outcome == Fail) != tc.wantSignificant {
				t.Fatalf("outcome %s, significant want %v", v.Outcome, tc.wantSignificant)
			}
		})
	}
}

func TestRender(t *testing.T) {
	vars := Vars{Service: "demo", Version: "v2", Stage: "canary", Interval: "1m"}.Map()
	tests := []struct {
		tmpl, want, err string
	}{
		{`rate(x{service="{{.Service}}",version="{{.Version}}"}[{{.Interval}}])`, `rate(x{service="demo",version="v2"}[1m])`, ""},
		{`{{.Stage}}`, "canary", ""},
		{`{{.BaselineVersion}}`, "", `no entry for key "BaselineVersion"`},
		{`{{.Nope}}`, "", `no entry for key "Nope"`},
		{`{{.Service`, "", "template:"},
	}
	for _, tc := range tests {
		got, err := Render(tc.tmpl, vars)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Render(%q) err = %v, want %q", tc.tmpl, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
}

func BenchmarkJudgeCompare(b *testing.B) {
	m := Metric{Name: "lat", Direction: Max, Threshold: f(1), Compare: &Compare{}, MinSamples: 5}
	cs, bs := make([]float64, 60), make([]float64, 60)
	for i := range cs {
		cs[i], bs[i] = float64(i%7)/10, float64(i%5)/10
	}
	o := Observation{Canary: []float64{0.3}, CanarySamples: cs, BaselineSamples: bs}
	for b.Loop() {
		Judge(m, o)
	}
}
