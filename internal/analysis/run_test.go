package analysis

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func intp(i int) *int { return &i }

func pass(name string) Verdict { return Verdict{Metric: name, Outcome: Pass, Rule: "ok"} }
func fail(name string) Verdict {
	return Verdict{Metric: name, Outcome: Fail, Rule: "canary 0.3 > max 0.05"}
}
func inc(name string) Verdict {
	return Verdict{Metric: name, Outcome: Inconclusive, Rule: "query returned no data"}
}
func errv(name string) Verdict {
	return Verdict{Metric: name, Outcome: Inconclusive, Error: true, Rule: "measurement failed: connection refused"}
}

func TestRun(t *testing.T) {
	spec := Spec{Interval: "1m", Metrics: []Metric{
		{Name: "err", Query: "q", Threshold: f(0.05), Direction: Max, FailureLimit: 1, InconclusiveLimit: 2, ConsecutiveErrorLimit: intp(2)},
		{Name: "lat", Query: "q", Threshold: f(0.5), Direction: Max, DryRun: true},
	}}
	iv := func(vs ...Verdict) IntervalResult { return IntervalResult{Verdicts: vs} }
	aerr := IntervalResult{Verdicts: []Verdict{pass("err")}, AlertsError: "connection refused"}
	tests := []struct {
		name      string
		required  int
		intervals []IntervalResult
		want      Action
		reason    string
	}{
		{"healthy run is promote-eligible", 3, []IntervalResult{iv(pass("err")), iv(pass("err")), iv(pass("err"))}, PromoteEligible, "3 intervals recorded"},
		{"before required intervals it continues", 3, []IntervalResult{iv(pass("err")), iv(pass("err"))}, Continue, "2 of 3 intervals"},
		{"failures within failureLimit continue", 3, []IntervalResult{iv(fail("err"))}, Continue, ""},
		{"failures beyond failureLimit roll back", 9, []IntervalResult{iv(fail("err")), iv(pass("err")), iv(fail("err"))}, Rollback, "metric err failed 2 times > failureLimit 1: canary 0.3 > max 0.05"},
		{"inconclusive beyond limit pauses", 9, []IntervalResult{iv(inc("err")), iv(inc("err")), iv(inc("err"))}, Pause, "metric err inconclusive 3 times > inconclusiveLimit 2"},
		{"consecutive errors beyond limit end in error", 9, []IntervalResult{iv(errv("err")), iv(errv("err")), iv(errv("err"))}, Errored, "could not be measured 3 times in a row > consecutiveErrorLimit 2"},
		{"a good measurement resets consecutive errors", 9, []IntervalResult{iv(errv("err")), iv(errv("err")), iv(pass("err")), iv(errv("err")), iv(errv("err"))}, Continue, ""},
		{"errors are not inconclusives", 9, []IntervalResult{iv(errv("err")), iv(errv("err")), iv(pass("err")), iv(errv("err"))}, Continue, ""},
		{"missing verdict counts as error", 9, []IntervalResult{iv(), iv(), iv()}, Errored, "no measurement recorded"},
		{"dry-run failures never decide", 2, []IntervalResult{iv(pass("err"), fail("lat")), iv(pass("err"), fail("lat"))}, PromoteEligible, ""},
		{"firing SLO alert rolls back at once", 9, []IntervalResult{{Verdicts: []Verdict{pass("err")}, FiringAlerts: []string{"ShipgateHighErrorRate"}}}, Rollback, "SLO alert firing: ShipgateHighErrorRate"},
		{"unreadable alerts count as errors", 9, []IntervalResult{aerr, aerr, aerr}, Errored, "SLO alerts could not be checked: connection refused"},
		{"never passed within budget is not promotable", 2, []IntervalResult{iv(inc("err")), iv(errv("err"))}, Continue, "metric err has not passed yet in 2 intervals"},
		{"stale pass is not promotable", 2, []IntervalResult{iv(pass("err")), iv(errv("err"))}, Continue, "waiting for metric err to pass again"},
		{"terminal decision sticks", 9, []IntervalResult{iv(fail("err")), iv(fail("err")), iv(pass("err")), iv(pass("err"))}, Rollback, "failureLimit"},
		{"unknown outcome never passes", 1, []IntervalResult{iv(Verdict{Metric: "err", Outcome: "maybe"})}, Continue, "has not passed yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := NewRun(spec, tc.required)
			var d Decision
			for _, in := range tc.intervals {
				d = run.Record(in)
				// The state must survive a JSON round trip (continue-as-new) unchanged.
				b, err := json.Marshal(run)
				if err != nil {
					t.Fatal(err)
				}
				var back Run
				if err := json.Unmarshal(b, &back); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(back, run) {
					t.Fatalf("JSON round trip changed the run:\n%+v\n%+v", back, run)
				}
				run = back
			}
			if d.Action != tc.want || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("decision = %+v, want %s with reason containing %q", d, tc.want, tc.reason)
			}
			if run.Decision != d {
				t.Fatalf("stored decision %+v != returned %+v", run.Decision, d)
			}
		})
	}
}

func TestRunResume(t *testing.T) {
	spec := Spec{Interval: "1m", Metrics: []Metric{{Name: "err", Query: "q", Threshold: f(1), Direction: Max}}}
	run := NewRun(spec, 2)
	if d := run.Record(IntervalResult{Verdicts: []Verdict{inc("err")}}); d.Action != Pause {
		t.Fatalf("decision = %+v, want pause", d)
	}
	run.Resume()
	if run.Decision.Action != Continue || run.Metrics[0].Inconclusives != 0 {
		t.Fatalf("after resume: %+v", run)
	}
	if d := run.Record(IntervalResult{Verdicts: []Verdict{pass("err")}}); d.Action != PromoteEligible {
		t.Fatalf("decision = %+v, want promote-eligible", d)
	}
	run = NewRun(spec, 2)
	run.Record(IntervalResult{Verdicts: []Verdict{fail("err")}})
	run.Resume() // only a pause can be resumed
	if run.Decision.Action != Rollback {
		t.Fatalf("resume changed a rollback: %+v", run.Decision)
	}
}
