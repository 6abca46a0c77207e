package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/aclements/go-moremath/stats"
)

// Outcome of one metric in one interval.
type Outcome string

const (
	Pass         Outcome = "pass"
	Fail         Outcome = "fail"
	Inconclusive Outcome = "inconclusive"
)

// Observation is what a provider measured for one metric at one time: the rendered queries and
// the raw values, NaN and Inf included (Judge filters them). Err set means the measurement could
// not be taken at all (Prometheus unreachable, bad response, template error).
type Observation struct {
	Query         string
	BaselineQuery string
	RequestsQuery string
	// Canary holds the instant values of Query, one per series.
	Canary []float64
	// Requests is the value of the MinRequests query; nil when it returned nothing.
	Requests *float64
	// CanarySamples and BaselineSamples are range-query samples for Compare.
	CanarySamples   []float64
	BaselineSamples []float64
	Err             error
}

// Verdict is the judgement of one metric in one interval, with what it was based on.
// Values are finite (non-finite ones are dropped and counted) so a Verdict always encodes as JSON.
type Verdict struct {
	Metric  string  `json:"metric"`
	Outcome Outcome `json:"outcome"`
	// Error marks an inconclusive verdict caused by a failed measurement; these count towards
	// consecutiveErrorLimit instead of inconclusiveLimit.
	Error  bool `json:"error,omitempty"`
	DryRun bool `json:"dryRun,omitempty"`

	Query         string `json:"query,omitempty"`
	BaselineQuery string `json:"baselineQuery,omitempty"`
	// Canary are the finite instant values of Query; Dropped counts the NaN/Inf ones left out.
	Canary          []float64 `json:"canary,omitempty"`
	Dropped         int       `json:"dropped,omitempty"`
	Requests        *float64  `json:"requests,omitempty"`
	CanarySamples   []float64 `json:"canarySamples,omitempty"`
	BaselineSamples []float64 `json:"baselineSamples,omitempty"`
	Threshold       *float64  `json:"threshold,omitempty"`
	Direction       Direction `json:"direction,omitempty"`
	PValue          *float64  `json:"pValue,omitempty"`
	// Rule is the human reason, e.g. "canary 0.12 > max 0.05".
	Rule string `json:"rule"`
}

// Judge applies m's rule to one observation. It never panics and never turns missing data into
// a pass: no data, NaN, too few samples, too little traffic or a failed measurement are
// inconclusive; a fixed-threshold failure is a failure whatever the statistical test says.
func Judge(m Metric, o Observation) Verdict {
	v := Verdict{
		Metric: m.Name, DryRun: m.DryRun, Query: o.Query, BaselineQuery: o.BaselineQuery,
		Threshold: m.Threshold, Direction: m.Direction,
	}
	v.Outcome, v.Rule = judge(m, o, &v)
	if v.DryRun {
		v.Rule += " (dry run: reported, not deciding)"
	}
	return v
}

func judge(m Metric, o Observation, v *Verdict) (Outcome, string) {
	if o.Err != nil {
		v.Error = true
		return Inconclusive, "measurement failed: " + o.Err.Error()
	}
	if g := m.MinRequests; g != nil {
		if o.Requests == nil || !finite(*o.Requests) {
			return Inconclusive, fmt.Sprintf("request guard %q returned no value", o.RequestsQuery)
		}
		r := *o.Requests
		v.Requests = &r
		if r < g.Min {
			return Inconclusive, fmt.Sprintf("canary served %s requests < minRequests %s", num(r), num(g.Min))
		}
	}
	v.Canary, v.Dropped = finiteOnly(o.Canary)
	if len(v.Canary) == 0 {
		if v.Dropped > 0 {
			return Inconclusive, fmt.Sprintf("query returned only non-finite values (%d NaN/Inf)", v.Dropped)
		}
		return Inconclusive, "query returned no data"
	}
	var passed []string
	if m.Threshold != nil {
		if m.Compare == nil && len(v.Canary) < m.minSamples() {
			return Inconclusive, fmt.Sprintf("%d samples < minSamples %d", len(v.Canary), m.minSamples())
		}
		worst := worstOf(v.Canary, m.Direction)
		if violates(worst, *m.Threshold, m.Direction) {
			// Decided here: a fixed threshold is never overridden by the comparison, which is
			// still run so the report shows both.
			rule := fmt.Sprintf("canary %s %s %s %s", num(worst), worseOp(m.Direction), m.Direction, num(*m.Threshold))
			if m.Compare != nil {
				_, cr := compare(m, o, v)
				rule += " (comparison, not deciding: " + cr + ")"
			}
			return Fail, rule
		}
		if v.Dropped > 0 {
			return Inconclusive, fmt.Sprintf("canary %s within %s %s but %d series were NaN/Inf", num(worst), m.Direction, num(*m.Threshold), v.Dropped)
		}
		passed = append(passed, fmt.Sprintf("canary %s %s %s %s", num(worst), okOp(m.Direction), m.Direction, num(*m.Threshold)))
	}
	if m.Compare != nil {
		out, rule := compare(m, o, v)
		if out != Pass {
			return out, rule
		}
		passed = append(passed, rule)
	}
	return Pass, strings.Join(passed, "; ")
}

// compare is Kayenta's classifier: a one-sided Mann–Whitney U test that the canary is worse than
// the baseline, and a failure only when it is significant and the median effect exceeds Margin.
func compare(m Metric, o Observation, v *Verdict) (Outcome, string) {
	c := *m.Compare
	v.CanarySamples, _ = finiteOnly(o.CanarySamples)
	v.BaselineSamples, _ = finiteOnly(o.BaselineSamples)
	n := m.minSamples()
	if len(v.CanarySamples) < n || len(v.BaselineSamples) < n {
		return Inconclusive, fmt.Sprintf("comparison needs %d samples per side, canary had %d, baseline %d",
			n, len(v.CanarySamples), len(v.BaselineSamples))
	}
	alt := stats.LocationGreater
	if m.Direction == Min {
		alt = stats.LocationLess
	}
	res, err := stats.MannWhitneyUTest(v.CanarySamples, v.BaselineSamples, alt)
	if errors.Is(err, stats.ErrSamplesEqual) {
		return Pass, "canary and baseline samples identical"
	}
	if err != nil {
		return Inconclusive, "Mann–Whitney U test: " + err.Error()
	}
	p := res.P
	v.PValue = &p
	mc, mb := median(v.CanarySamples), median(v.BaselineSamples)
	if p >= c.alpha() {
		return Pass, fmt.Sprintf("no significant difference from baseline (Mann–Whitney p=%.3g >= alpha %g)", p, c.alpha())
	}
	// Margin is relative to the baseline's magnitude: a baseline of zeros allows no increase at
	// all, so an all-zero baseline can never excuse a canary that is worse.
	limit := mb + math.Abs(mb)*c.Margin
	worse := mc > limit
	if m.Direction == Min {
		limit = mb - math.Abs(mb)*c.Margin
		worse = mc < limit
	}
	desc := fmt.Sprintf("canary median %s vs baseline median %s (margin %g %%, Mann–Whitney p=%.3g < alpha %g)",
		num(mc), num(mb), c.Margin*100, p, c.alpha())
	if worse {
		return Fail, "significantly worse than baseline: " + desc
	}
	return Pass, "difference within margin: " + desc
}

func finiteOnly(xs []float64) (kept []float64, dropped int) {
	for _, x := range xs {
		if finite(x) {
			kept = append(kept, x)
		} else {
			dropped++
		}
	}
	return kept, dropped
}

func worstOf(xs []float64, d Direction) float64 {
	if d == Min {
		return slices.Min(xs)
	}
	return slices.Max(xs)
}

func violates(x, threshold float64, d Direction) bool {
	if d == Min {
		return x < threshold
	}
	return x > threshold
}

func worseOp(d Direction) string {
	if d == Min {
		return "<"
	}
	return ">"
}

func okOp(d Direction) string {
	if d == Min {
		return ">="
	}
	return "<="
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }
