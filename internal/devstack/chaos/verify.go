package chaos

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shipgate/shipgate/internal/devstack/demosvc"
)

// StepID names a traffic step by its effect: an environment moved to a percent.
type StepID struct {
	Environment string
	Percent     float64
}

func (s StepID) String() string { return fmt.Sprintf("%s %g %%", s.Environment, s.Percent) }

// StepsOf returns the steps of one release (version, from previous) in the demo service's log.
func StepsOf(l demosvc.StepLog, version, previous string) []demosvc.Step {
	var out []demosvc.Step
	for _, s := range l.Steps {
		if s.Version == version && s.PreviousVersion == previous {
			out = append(out, s)
		}
	}
	return out
}

// ExactlyOnce lists what is wrong with one release's steps as the backend saw them: a step
// applied under more than one Idempotency-Key (applied twice), a wanted step that never came,
// and, when strict, a step that was not wanted.
func ExactlyOnce(steps []demosvc.Step, want []StepID, strict bool) []string {
	var problems []string
	seen := map[StepID]bool{}
	for _, s := range steps {
		id := StepID{s.Environment, s.Percent}
		seen[id] = true
		if s.Keys != 1 {
			problems = append(problems, fmt.Sprintf("%s applied under %d Idempotency-Keys (%d requests), want 1", id, s.Keys, s.Requests))
		}
		if strict && !slices.Contains(want, id) {
			problems = append(problems, fmt.Sprintf("%s applied, but the release should not have made that step", id))
		}
	}
	for _, w := range want {
		if !seen[w] {
			problems = append(problems, fmt.Sprintf("%s never applied", w))
		}
	}
	return problems
}

// Run is the outcome of one chaos run.
type Run struct {
	Scenario string // worker-kill, server-kill, traffic-fault, cancel
	Name     string // what this run did, e.g. "fault at production 25 %"
	Problems []string
	Duration time.Duration
	// ToZero is the time from the trigger (a refused step, a cancellation) to the backend
	// applying the way back (the release's traffic at 0 %); 0 when not measured.
	ToZero time.Duration
	Kills  int    // worker or server kills that landed during the run
	Note   string // what else was measured
}

// Passed reports whether the run found nothing wrong.
func (r Run) Passed() bool { return len(r.Problems) == 0 }

// WriteTable prints the summary: one row per scenario (runs, passed, kills, time to traffic
// back at 0 %), then one row per run.
func WriteTable(w io.Writer, seed int64, runs []Run) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\truns\tpassed\tkills\ttrigger → traffic 0 %% (min / median / max)\n")
	var order []string
	by := map[string][]Run{}
	for _, r := range runs {
		if _, ok := by[r.Scenario]; !ok {
			order = append(order, r.Scenario)
		}
		by[r.Scenario] = append(by[r.Scenario], r)
	}
	for _, sc := range order {
		rs := by[sc]
		passed, kills := 0, 0
		var zero []time.Duration
		for _, r := range rs {
			if r.Passed() {
				passed++
			}
			kills += r.Kills
			if r.ToZero > 0 {
				zero = append(zero, r.ToZero)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", sc, len(rs), passed, dash(kills), spread(zero))
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "run\tresult\ttime\tkills\ttrigger → 0 %%\tnotes\n")
	for _, r := range runs {
		res := "pass"
		if !r.Passed() {
			res = "FAIL"
		}
		tz := "-"
		if r.ToZero > 0 {
			tz = secs(r.ToZero)
		}
		fmt.Fprintf(tw, "%s: %s\t%s\t%s\t%s\t%s\t%s\n", r.Scenario, r.Name, res, secs(r.Duration), dash(r.Kills), tz, r.Note)
	}
	tw.Flush()
	for _, r := range runs {
		for _, p := range r.Problems {
			fmt.Fprintf(w, "FAIL %s: %s: %s\n", r.Scenario, r.Name, p)
		}
	}
	fmt.Fprintf(w, "seed %d\n", seed)
}

func dash(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// spread is "min / median / max" of ds, "-" when empty.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	parts := []string{secs(s[0]), secs(s[len(s)/2]), secs(s[len(s)-1])}
	return strings.Join(parts, " / ")
}
