package analysis

import (
	"fmt"
	"strings"
	"time"
)

// maxSpans bounds a metric's timeline so a 48-hour watch of a flapping metric stays small
// enough to carry through continue-as-new and to show in status.
const maxSpans = 48

// Span is a run of equal outcomes in a metric's timeline: "pass×1799".
type Span struct {
	Outcome Outcome `json:"outcome"`
	N       int     `json:"n"`
}

// Evidence is a verdict on one line, for reasons, notices and the audit log: the rule that
// decided, the values it saw and the rendered queries. Queries have their whitespace collapsed.
func (v Verdict) Evidence() string {
	return fmt.Sprintf("%s %s: %s", v.Metric, v.Outcome, v.Details())
}

// Details is Evidence without the metric and outcome in front, for reasons that name them.
func (v Verdict) Details() string {
	var b strings.Builder
	b.WriteString(v.Rule)
	var vals []string
	if len(v.Canary) > 0 {
		vals = append(vals, "canary="+nums(v.Canary, 5))
	}
	if len(v.BaselineSamples) > 0 {
		vals = append(vals, fmt.Sprintf("baseline median=%s (n=%d)", num(median(v.BaselineSamples)), len(v.BaselineSamples)))
	}
	if v.PValue != nil {
		vals = append(vals, "p="+num(*v.PValue))
	}
	if v.Requests != nil {
		vals = append(vals, "requests="+num(*v.Requests))
	}
	if v.Threshold != nil {
		vals = append(vals, fmt.Sprintf("threshold %s %s", v.Direction, num(*v.Threshold)))
	}
	if len(vals) > 0 {
		b.WriteString(" [" + strings.Join(vals, ", ") + "]")
	}
	if v.Query != "" {
		b.WriteString(" query: " + oneLine(v.Query))
	}
	if v.BaselineQuery != "" {
		b.WriteString(" baseline query: " + oneLine(v.BaselineQuery))
	}
	return b.String()
}

// Summary is a metric's whole run on one line, for the audit log: counts, the outcome
// timeline, the range of canary values and the latest verdict's evidence.
func (s MetricState) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d pass, %d fail, %d inconclusive, %d error", s.Name, s.Passes, s.Failures, s.Inconclusives, s.Errors)
	if s.DryRun {
		b.WriteString(" (dry run)")
	}
	if tl := s.TimelineString(); tl != "" {
		b.WriteString("; timeline " + tl)
	}
	if s.Low != nil && s.High != nil {
		fmt.Fprintf(&b, "; canary %s…%s", num(*s.Low), num(*s.High))
	}
	if s.Last != nil {
		b.WriteString("; last: " + s.Last.Evidence())
	}
	return b.String()
}

// TimelineString renders the timeline oldest first: "pass×1799 fail×1", with the number of
// earlier intervals no longer itemised in front.
func (s MetricState) TimelineString() string {
	var parts []string
	if s.Earlier > 0 {
		parts = append(parts, fmt.Sprintf("(%d earlier)", s.Earlier))
	}
	for _, sp := range s.Timeline {
		parts = append(parts, fmt.Sprintf("%s×%d", sp.Outcome, sp.N))
	}
	return strings.Join(parts, " ")
}

// track adds one outcome and value to the metric's timeline and value range.
func (s *MetricState) track(v Verdict) {
	o := v.Outcome
	if o == Inconclusive && v.Error {
		o = "error"
	}
	if n := len(s.Timeline); n > 0 && s.Timeline[n-1].Outcome == o {
		s.Timeline[n-1].N++
	} else {
		s.Timeline = append(s.Timeline, Span{Outcome: o, N: 1})
	}
	if len(s.Timeline) > maxSpans {
		s.Earlier += s.Timeline[0].N
		s.Timeline = append(s.Timeline[:0:0], s.Timeline[1:]...)
	}
	if len(v.Canary) > 0 {
		w := worstOf(v.Canary, v.Direction)
		if s.Low == nil || w < *s.Low {
			s.Low = &w
		}
		if s.High == nil || w > *s.High {
			s.High = &w
		}
	}
}

// IntervalRecord is one interval in compact form: when it was measured, each metric's outcome
// with its deciding value, the firing alerts and the run's decision after it. The full
// verdicts (queries, every value) are in the measuring activity's result in the history.
type IntervalRecord struct {
	N        int          `json:"n"`
	At       time.Time    `json:"at"`
	Verdicts []BriefValue `json:"verdicts"`
	Alerts   []string     `json:"alerts,omitempty"`
	Decision Action       `json:"decision"`
}

// BriefValue is one metric in an IntervalRecord.
type BriefValue struct {
	Metric  string   `json:"metric"`
	Outcome Outcome  `json:"outcome"`
	Value   *float64 `json:"value,omitempty"` // the canary's worst value
	Rule    string   `json:"rule"`
}

// NewIntervalRecord compacts interval n, measured at at, and the decision that followed.
func NewIntervalRecord(n int, at time.Time, res IntervalResult, d Decision) IntervalRecord {
	r := IntervalRecord{N: n, At: at, Alerts: res.FiringAlerts, Decision: d.Action}
	for _, v := range res.Verdicts {
		b := BriefValue{Metric: v.Metric, Outcome: v.Outcome, Rule: v.Rule}
		if len(v.Canary) > 0 {
			w := worstOf(v.Canary, v.Direction)
			b.Value = &w
		}
		r.Verdicts = append(r.Verdicts, b)
	}
	return r
}

// String is the record on one line: "#12 10:04:00 error-rate pass 0.004, p99 fail 0.61 → continue".
func (r IntervalRecord) String() string {
	var parts []string
	for _, v := range r.Verdicts {
		s := v.Metric + " " + string(v.Outcome)
		if v.Value != nil {
			s += " " + num(*v.Value)
		}
		parts = append(parts, s)
	}
	if len(r.Alerts) > 0 {
		parts = append(parts, "alerts "+strings.Join(r.Alerts, ", "))
	}
	return fmt.Sprintf("#%d %s %s → %s", r.N, r.At.UTC().Format(time.TimeOnly), strings.Join(parts, ", "), r.Decision)
}

func nums(xs []float64, limit int) string {
	var parts []string
	for i, x := range xs {
		if i == limit {
			parts = append(parts, fmt.Sprintf("…+%d", len(xs)-limit))
			break
		}
		parts = append(parts, num(x))
	}
	return strings.Join(parts, " ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
