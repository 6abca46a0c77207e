// Package analysis holds the verdict rules of canary and production-step analysis: the metric
// spec embedded in the policy, query templating, one verdict per metric per interval, and the
// aggregate Run state that turns a stream of verdicts into continue / promote-eligible /
// rollback / pause / error. It is pure: the Prometheus side lives in analysis/prom.
package analysis

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Direction says which side of a threshold is bad.
type Direction string

const (
	// Max: higher is worse (error ratio, latency). Canary must stay <= threshold and must not be
	// significantly above the baseline.
	Max Direction = "max"
	// Min: lower is worse (success ratio, throughput). Canary must stay >= threshold and must not
	// be significantly below the baseline.
	Min Direction = "min"
)

// DefaultConsecutiveErrorLimit is Argo Rollouts' default for consecutiveErrorLimit.
const DefaultConsecutiveErrorLimit = 4

// Spec is the analysis section of the policy.
type Spec struct {
	// Interval between measurements, a Prometheus duration ("1m"); also {{.Interval}} in queries.
	Interval string `json:"interval" yaml:"interval"`
	// Alerts selects the SLO alerts whose firing fails the run at once, e.g. {service: "{{.Service}}"}.
	// Values are templates. Empty: alerts are not consulted.
	Alerts  map[string]string `json:"alerts,omitempty" yaml:"alerts,omitempty"`
	Metrics []Metric          `json:"metrics" yaml:"metrics"`
}

// Metric is one measured quantity with its rule.
type Metric struct {
	Name string `json:"name" yaml:"name"`
	// Query is a text/template of a PromQL query for the canary (or the current step's version).
	Query string `json:"query" yaml:"query"`
	// BaselineQuery is the same quantity for the stable version; required by Compare.
	BaselineQuery string `json:"baselineQuery,omitempty" yaml:"baselineQuery,omitempty"`
	// Threshold is a fixed limit; nil means only Compare decides.
	Threshold *float64 `json:"threshold,omitempty" yaml:"threshold,omitempty"`
	// Direction says whether Threshold is a maximum or a minimum and which way Compare tests.
	Direction Direction `json:"direction" yaml:"direction"`
	// DryRun metrics are measured and reported but never count towards a decision.
	DryRun bool `json:"dryRun,omitempty" yaml:"dryRun,omitempty"`
	// MinSamples is the fewest finite values the canary query must return (default 1); fewer
	// is inconclusive. With Compare it applies to each side's range samples.
	MinSamples int `json:"minSamples,omitempty" yaml:"minSamples,omitempty"`
	// MinRequests guards against judging a canary that served too little traffic.
	MinRequests *RequestGuard `json:"minRequests,omitempty" yaml:"minRequests,omitempty"`
	// Compare adds Kayenta's canary-vs-baseline Mann–Whitney U test.
	Compare *Compare `json:"compare,omitempty" yaml:"compare,omitempty"`

	// Budgets, with Argo Rollouts' semantics (each counted per metric over the run):
	// FailureLimit: the run rolls back when failed measurements exceed it (0: the first failure).
	FailureLimit int `json:"failureLimit,omitempty" yaml:"failureLimit,omitempty"`
	// InconclusiveLimit: the run pauses for a human when inconclusive measurements exceed it
	// (0: the first inconclusive one). Inconclusive never passes silently.
	InconclusiveLimit int `json:"inconclusiveLimit,omitempty" yaml:"inconclusiveLimit,omitempty"`
	// ConsecutiveErrorLimit: the run ends in error when measurements that could not be taken
	// (Prometheus unreachable, bad response) happen more than this many times in a row.
	// Nil means DefaultConsecutiveErrorLimit (4), as in Argo. A good measurement resets the count.
	ConsecutiveErrorLimit *int `json:"consecutiveErrorLimit,omitempty" yaml:"consecutiveErrorLimit,omitempty"`
}

// RequestGuard is a query for the canary's request count over the interval and its minimum.
type RequestGuard struct {
	Query string  `json:"query" yaml:"query"`
	Min   float64 `json:"min" yaml:"min"`
}

// Compare configures the Mann–Whitney U test of canary samples against baseline samples.
type Compare struct {
	// Alpha is the significance level (default 0.05).
	Alpha float64 `json:"alpha,omitempty" yaml:"alpha,omitempty"`
	// Margin is the allowed relative effect size: a significant difference fails only when the
	// canary median is worse than the baseline median by more than Margin (0.1 = 10 %).
	Margin float64 `json:"margin,omitempty" yaml:"margin,omitempty"`
	// Step is the range-query resolution, a Prometheus duration (default "10s"). The window is
	// the analysis interval ending at the measurement time.
	Step string `json:"step,omitempty" yaml:"step,omitempty"`
}

// ErrorLimit returns ConsecutiveErrorLimit with Argo's default applied.
func (m Metric) ErrorLimit() int {
	if m.ConsecutiveErrorLimit == nil {
		return DefaultConsecutiveErrorLimit
	}
	return *m.ConsecutiveErrorLimit
}

// minSamples returns MinSamples with its default applied.
func (m Metric) minSamples() int {
	if m.MinSamples <= 0 {
		return 1
	}
	return m.MinSamples
}

func (c Compare) alpha() float64 {
	if c.Alpha == 0 {
		return 0.05
	}
	return c.Alpha
}

// StepOrDefault returns Step with its default ("10s") applied.
func (c Compare) StepOrDefault() string {
	if c.Step == "" {
		return "10s"
	}
	return c.Step
}

// LoadSpec parses the analysis section from YAML, strictly (unknown fields are errors), and
// validates it. name is the file name used in error messages.
func LoadSpec(name string, data []byte) (Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// Validate checks the whole section; every error names the field path, e.g.
// "metrics[1].compare.alpha: must be in (0, 1), got 1.5".
func (s Spec) Validate() error {
	var errs []error
	if err := validDuration(s.Interval); err != nil {
		errs = append(errs, fmt.Errorf("interval: %w", err))
	}
	for k, v := range s.Alerts {
		if !model.LegacyValidation.IsValidLabelName(k) {
			errs = append(errs, fmt.Errorf("alerts.%s: not a valid label name", k))
		}
		if err := checkTemplate(v); err != nil {
			errs = append(errs, fmt.Errorf("alerts.%s: %w", k, err))
		}
	}
	if len(s.Metrics) == 0 {
		errs = append(errs, errors.New("metrics: at least one metric is required"))
	}
	seen := map[string]int{}
	for i, m := range s.Metrics {
		if j, dup := seen[m.Name]; dup && m.Name != "" {
			errs = append(errs, fmt.Errorf("metrics[%d].name: %q already used by metrics[%d]", i, m.Name, j))
		}
		seen[m.Name] = i
		for _, err := range m.problems() {
			errs = append(errs, fmt.Errorf("metrics[%d].%w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Validate checks one metric; each error starts with the field name.
func (m Metric) Validate() error { return errors.Join(m.problems()...) }

func (m Metric) problems() []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(m.Name) == "" {
		add("name", "required")
	}
	if strings.TrimSpace(m.Query) == "" {
		add("query", "required")
	} else if err := checkTemplate(m.Query); err != nil {
		add("query", "%v", err)
	}
	if m.BaselineQuery != "" {
		if err := checkTemplate(m.BaselineQuery); err != nil {
			add("baselineQuery", "%v", err)
		}
	}
	if m.Direction != Max && m.Direction != Min {
		add("direction", "must be %q or %q, got %q", Max, Min, m.Direction)
	}
	if m.Threshold == nil && m.Compare == nil {
		add("threshold", "required unless compare is set (nothing would decide)")
	}
	if m.Threshold != nil && !finite(*m.Threshold) {
		add("threshold", "must be a finite number")
	}
	if m.MinSamples < 0 {
		add("minSamples", "must be >= 0, got %d", m.MinSamples)
	}
	if g := m.MinRequests; g != nil {
		if strings.TrimSpace(g.Query) == "" {
			add("minRequests.query", "required")
		} else if err := checkTemplate(g.Query); err != nil {
			add("minRequests.query", "%v", err)
		}
		if !finite(g.Min) || g.Min < 0 {
			add("minRequests.min", "must be a finite number >= 0, got %v", g.Min)
		}
	}
	if c := m.Compare; c != nil {
		if m.BaselineQuery == "" {
			add("baselineQuery", "required by compare")
		}
		if c.Alpha != 0 && (!(c.Alpha > 0) || c.Alpha >= 1) {
			add("compare.alpha", "must be in (0, 1), got %v", c.Alpha)
		}
		if !finite(c.Margin) || c.Margin < 0 {
			add("compare.margin", "must be a finite number >= 0, got %v", c.Margin)
		}
		if c.Step != "" {
			if err := validDuration(c.Step); err != nil {
				add("compare.step", "%v", err)
			}
		}
	}
	if m.FailureLimit < 0 {
		add("failureLimit", "must be >= 0, got %d", m.FailureLimit)
	}
	if m.InconclusiveLimit < 0 {
		add("inconclusiveLimit", "must be >= 0, got %d", m.InconclusiveLimit)
	}
	if m.ConsecutiveErrorLimit != nil && *m.ConsecutiveErrorLimit < 0 {
		add("consecutiveErrorLimit", "must be >= 0, got %d", *m.ConsecutiveErrorLimit)
	}
	return errs
}

func validDuration(s string) error {
	if s == "" {
		return errors.New("required (a Prometheus duration such as 1m)")
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a Prometheus duration such as 1m", s)
	}
	if d <= 0 {
		return fmt.Errorf("%q must be positive", s)
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
