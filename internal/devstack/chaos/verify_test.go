package chaos

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/devstack/demosvc"
)

func TestExactlyOnce(t *testing.T) {
	step := func(env string, pct float64, keys, reqs int) demosvc.Step {
		return demosvc.Step{Environment: env, Version: "2.0.0", PreviousVersion: "1.3.0", Percent: pct, Keys: keys, Requests: reqs}
	}
	want := []StepID{{"staging", 100}, {"production", 2}, {"production", 5}}
	ok := []demosvc.Step{step("staging", 100, 1, 1), step("production", 2, 1, 3), step("production", 5, 1, 1)}
	if p := ExactlyOnce(ok, want, true); len(p) != 0 {
		t.Fatalf("retries under one key are exactly once, got %v", p)
	}
	twice := []demosvc.Step{step("staging", 100, 1, 1), step("production", 2, 2, 2), step("production", 0, 1, 1)}
	p := ExactlyOnce(twice, want, true)
	for _, wantProblem := range []string{"production 2 % applied under 2 Idempotency-Keys", "production 5 % never applied", "production 0 % applied, but"} {
		if !strings.Contains(strings.Join(p, "\n"), wantProblem) {
			t.Errorf("problems %q lack %q", p, wantProblem)
		}
	}
	if p := ExactlyOnce(twice[2:], nil, false); len(p) != 0 {
		t.Errorf("not strict: an unwanted step applied once is fine, got %v", p)
	}
	log := demosvc.StepLog{Steps: append(ok, demosvc.Step{Environment: "production", Version: "3.0.0", PreviousVersion: "2.0.0", Percent: 2, Keys: 1})}
	if got := StepsOf(log, "2.0.0", "1.3.0"); len(got) != 3 {
		t.Errorf("StepsOf = %+v", got)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	WriteTable(&b, 42, []Run{
		{Scenario: "traffic-fault", Name: "production 25 %", Duration: 30 * time.Second, ToZero: 900 * time.Millisecond},
		{Scenario: "traffic-fault", Name: "production 100 %", Duration: 31 * time.Second, ToZero: 1200 * time.Millisecond, Problems: []string{"production 0 % never applied"}},
		{Scenario: "worker-kill", Name: "one release", Duration: 3 * time.Minute, Kills: 20},
	})
	out := b.String()
	for _, want := range []string{
		"traffic-fault  2     1       -      0.9 s / 1.2 s / 1.2 s",
		"worker-kill    1     1       20",
		"FAIL traffic-fault: production 100 %: production 0 % never applied",
		"seed 42",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
