package analysis

import (
	"fmt"
	"strings"
)

// Action is what the analysis loop should do next (a Decision) and, for a whole analysis (the
// release's AnalysisOutcome), where it stands: Running, then Promote, Rollback or Pause.
type Action string

// What the loop decides after each interval.
const (
	Continue        Action = "continue"         // keep measuring
	PromoteEligible Action = "promote-eligible" // enough intervals, no budget exhausted, every deciding metric's latest measurement passed
	Rollback        Action = "rollback"         // a failure budget is exhausted or an SLO alert fired
	Pause           Action = "pause"            // an inconclusive budget is exhausted: a human decides, never a silent pass
	Errored         Action = "error"            // measurements could not be taken too many times in a row
)

// How a whole analysis stands, besides Rollback and Pause.
const (
	Running Action = "running" // still measuring: the child's status query has the live view
	Promote Action = "promote" // passed (or a person accepted it on resume): the release may move on
)

// Decision is the run's current action with the reason a person reads.
type Decision struct {
	Action Action `json:"action"`
	Reason string `json:"reason"`
}

// Terminal reports whether the run has ended (rollback, pause or error); Record then changes nothing.
func (d Decision) Terminal() bool {
	return d.Action == Rollback || d.Action == Pause || d.Action == Errored
}

// IntervalResult is everything measured in one interval.
type IntervalResult struct {
	Verdicts []Verdict `json:"verdicts"`
	// FiringAlerts names the SLO alerts firing for the service; any one fails the run at once.
	FiringAlerts []string `json:"firingAlerts,omitempty"`
	// AlertsError says the alerts could not be read: every deciding metric then counts an error
	// for this interval, since a firing alert may have been missed.
	AlertsError string `json:"alertsError,omitempty"`
}

// MetricState holds one metric's budgets and counters.
type MetricState struct {
	Name              string   `json:"name"`
	DryRun            bool     `json:"dryRun,omitempty"`
	FailureLimit      int      `json:"failureLimit"`
	InconclusiveLimit int      `json:"inconclusiveLimit"`
	ErrorLimit        int      `json:"errorLimit"`
	Passes            int      `json:"passes"`
	Failures          int      `json:"failures"`
	Inconclusives     int      `json:"inconclusives"`
	Errors            int      `json:"errors"`
	ConsecutiveErrors int      `json:"consecutiveErrors"`
	Last              *Verdict `json:"last,omitempty"`
	// Timeline is every recorded outcome, run-length encoded ("error" for failed
	// measurements); Earlier counts the oldest intervals dropped to keep it bounded.
	Timeline []Span `json:"timeline,omitempty"`
	Earlier  int    `json:"earlier,omitempty"`
	// Low and High are the range of the canary's worst value per interval over the run.
	Low  *float64 `json:"low,omitempty"`
	High *float64 `json:"high,omitempty"`
}

// Run is the aggregate state of one analysis (a canary watch or a production step). It is plain
// data, so it can be passed through continue-as-new as JSON and rebuilt exactly.
type Run struct {
	// Required is how many intervals must be recorded before the run can be promote-eligible.
	Required  int           `json:"required"`
	Intervals int           `json:"intervals"`
	Metrics   []MetricState `json:"metrics"`
	Decision  Decision      `json:"decision"`
}

// NewRun starts a run of spec that needs required intervals (at least 1).
func NewRun(spec Spec, required int) Run {
	r := Run{Required: max(required, 1), Decision: Decision{Action: Continue, Reason: "no interval recorded yet"}}
	for _, m := range spec.Metrics {
		r.Metrics = append(r.Metrics, MetricState{
			Name: m.Name, DryRun: m.DryRun, FailureLimit: m.FailureLimit,
			InconclusiveLimit: m.InconclusiveLimit, ErrorLimit: m.ErrorLimit(),
		})
	}
	return r
}

// Record adds one interval and returns the new decision. Once terminal, the run stays as it is.
// A metric with no verdict in the interval counts as a failed measurement (error).
func (r *Run) Record(in IntervalResult) Decision {
	if r.Decision.Terminal() {
		return r.Decision
	}
	r.Intervals++
	for i := range r.Metrics {
		v := find(in.Verdicts, r.Metrics[i].Name)
		if in.AlertsError != "" && !r.Metrics[i].DryRun {
			v.Outcome, v.Error = Inconclusive, true
			v.Rule = "SLO alerts could not be checked: " + in.AlertsError
		}
		r.Metrics[i].record(v)
	}
	r.Decision = r.decide(in.FiringAlerts)
	return r.Decision
}

// Resume clears a pause after a person looked at it: inconclusive counters start again, as a
// new Argo AnalysisRun would. Other decisions are left alone.
func (r *Run) Resume() {
	if r.Decision.Action != Pause {
		return
	}
	for i := range r.Metrics {
		r.Metrics[i].Inconclusives = 0
	}
	r.Decision = Decision{Action: Continue, Reason: "resumed after pause"}
}

func find(vs []Verdict, name string) Verdict {
	for _, v := range vs {
		if v.Metric == name {
			return v
		}
	}
	return Verdict{Metric: name, Outcome: Inconclusive, Error: true, Rule: "no measurement recorded for this interval"}
}

func (s *MetricState) record(v Verdict) {
	s.Last = &v
	s.track(v)
	if v.Outcome == Inconclusive && v.Error {
		s.Errors++
		s.ConsecutiveErrors++
		return
	}
	s.ConsecutiveErrors = 0
	switch v.Outcome {
	case Pass:
		s.Passes++
	case Fail:
		s.Failures++
	default: // inconclusive, or an outcome we do not know: never counted as a pass
		s.Inconclusives++
	}
}

func (r *Run) decide(alerts []string) Decision {
	if len(alerts) > 0 {
		return Decision{Rollback, "SLO alert firing: " + strings.Join(alerts, "; ")}
	}
	deciding := func(yield func(MetricState) bool) {
		for _, m := range r.Metrics {
			if !m.DryRun && !yield(m) {
				return
			}
		}
	}
	for m := range deciding {
		if m.Failures > m.FailureLimit {
			return Decision{Rollback, fmt.Sprintf("metric %s failed %d times > failureLimit %d: %s", m.Name, m.Failures, m.FailureLimit, lastRule(m))}
		}
	}
	for m := range deciding {
		if m.ConsecutiveErrors > m.ErrorLimit {
			return Decision{Errored, fmt.Sprintf("metric %s could not be measured %d times in a row > consecutiveErrorLimit %d: %s", m.Name, m.ConsecutiveErrors, m.ErrorLimit, lastRule(m))}
		}
	}
	for m := range deciding {
		if m.Inconclusives > m.InconclusiveLimit {
			return Decision{Pause, fmt.Sprintf("metric %s inconclusive %d times > inconclusiveLimit %d: %s", m.Name, m.Inconclusives, m.InconclusiveLimit, lastRule(m))}
		}
	}
	if r.Intervals < r.Required {
		return Decision{Continue, fmt.Sprintf("%d of %d intervals recorded", r.Intervals, r.Required)}
	}
	for m := range deciding {
		if m.Passes == 0 {
			// Every measurement was an error or inconclusive within budget: nothing shows health
			// yet. Not promotable; the budgets pause the run, and so does the end of the watch.
			return Decision{Continue, fmt.Sprintf("metric %s has not passed yet in %d intervals", m.Name, r.Intervals)}
		}
	}
	for m := range deciding {
		if m.Last == nil || m.Last.Outcome != Pass {
			// Old passes do not vouch for now (Prometheus may have just gone away): wait for a
			// fresh pass. A caller whose window ends here must treat Continue as not promotable.
			return Decision{Continue, fmt.Sprintf("%d intervals recorded; waiting for metric %s to pass again (last: %s)", r.Intervals, m.Name, lastRule(m))}
		}
	}
	return Decision{PromoteEligible, fmt.Sprintf("%d intervals recorded, no budget exhausted", r.Intervals)}
}

func lastRule(m MetricState) string {
	if m.Last == nil {
		return ""
	}
	return m.Last.Details()
}
