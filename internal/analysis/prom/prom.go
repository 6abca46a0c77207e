// Package prom is the Prometheus provider of analysis: instant and range queries reduced to
// float values, firing alerts, and Measure, which renders a metric's templates, queries and
// hands the observation to analysis.Judge.
package prom

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/shipgate/shipgate/internal/analysis"
)

// Client queries one Prometheus server's HTTP API.
type Client struct {
	api     v1.API
	address string
}

// New returns a client for the Prometheus at address (e.g. http://127.0.0.1:9090). httpClient
// may be nil for http.DefaultClient; its timeout bounds every call.
func New(address string, httpClient *http.Client) (*Client, error) {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	c, err := api.NewClient(api.Config{Address: address, Client: httpClient})
	if err != nil {
		return nil, fmt.Errorf("prometheus %q: %w", address, err)
	}
	return &Client{api: v1.NewAPI(c), address: address}, nil
}

// API is the underlying client_golang API, for calls this package does not wrap (rules).
func (c *Client) API() v1.API { return c.api }

// Instant evaluates query at t and returns one value per series (a scalar gives one value).
// An empty result is an empty slice, not an error; NaN and Inf are returned as they are.
func (c *Client) Instant(ctx context.Context, query string, t time.Time) ([]float64, error) {
	val, _, _, err := c.api.Query(ctx, query, t)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: query %q: %w", c.address, query, err)
	}
	switch v := val.(type) {
	case model.Vector:
		out := make([]float64, 0, len(v))
		for _, s := range v {
			out = append(out, float64(s.Value))
		}
		return out, nil
	case *model.Scalar:
		return []float64{float64(v.Value)}, nil
	default:
		return nil, fmt.Errorf("prometheus %s: query %q returned %s, want an instant vector or scalar", c.address, query, val.Type())
	}
}

// Range evaluates query over [start, end] at step and returns every sample of every series.
func (c *Client) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]float64, error) {
	val, _, _, err := c.api.QueryRange(ctx, query, v1.Range{Start: start, End: end, Step: step})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: range query %q: %w", c.address, query, err)
	}
	m, ok := val.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("prometheus %s: range query %q returned %s, want a matrix", c.address, query, val.Type())
	}
	var out []float64
	for _, s := range m {
		for _, p := range s.Values {
			out = append(out, float64(p.Value))
		}
	}
	return out, nil
}

// Alert is a firing alert.
type Alert struct {
	Name     string            `json:"name"`
	Labels   map[string]string `json:"labels"`
	ActiveAt time.Time         `json:"activeAt"`
}

// FiringAlerts returns the alerts in state firing whose labels include every pair of match
// (pending and inactive alerts do not count). An empty match selects every firing alert.
func (c *Client) FiringAlerts(ctx context.Context, match map[string]string) ([]Alert, error) {
	res, err := c.api.Alerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: alerts: %w", c.address, err)
	}
	var out []Alert
	for _, a := range res.Alerts {
		if a.State != v1.AlertStateFiring || !matches(a.Labels, match) {
			continue
		}
		labels := map[string]string{}
		for k, v := range a.Labels {
			labels[string(k)] = string(v)
		}
		out = append(out, Alert{Name: labels[model.AlertNameLabel], Labels: labels, ActiveAt: a.ActiveAt})
	}
	slices.SortFunc(out, func(a, b Alert) int { return a.ActiveAt.Compare(b.ActiveAt) })
	return out, nil
}

func matches(ls model.LabelSet, match map[string]string) bool {
	for k, v := range match {
		if string(ls[model.LabelName(k)]) != v {
			return false
		}
	}
	return true
}

// MeasureAll measures every metric of spec at t and checks the spec's SLO alerts.
// vars.Interval defaults to spec.Interval.
func (c *Client) MeasureAll(ctx context.Context, spec analysis.Spec, vars analysis.Vars, t time.Time) analysis.IntervalResult {
	if vars.Interval == "" {
		vars.Interval = spec.Interval
	}
	var res analysis.IntervalResult
	for _, m := range spec.Metrics {
		res.Verdicts = append(res.Verdicts, c.Measure(ctx, m, vars, t))
	}
	if len(spec.Alerts) > 0 {
		names, err := c.firingFor(ctx, spec.Alerts, vars)
		if err != nil {
			res.AlertsError = err.Error()
		}
		res.FiringAlerts = names
	}
	return res
}

func (c *Client) firingFor(ctx context.Context, tmpl map[string]string, vars analysis.Vars) ([]string, error) {
	match, err := AlertMatch(tmpl, vars)
	if err != nil {
		return nil, err
	}
	alerts, err := c.FiringAlerts(ctx, match)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, a := range alerts {
		names = append(names, a.String())
	}
	return names, nil
}

// AlertMatch renders the policy's alert label templates with vars.
func AlertMatch(tmpl map[string]string, vars analysis.Vars) (map[string]string, error) {
	match := map[string]string{}
	for k, t := range tmpl {
		v, err := analysis.Render(t, vars.Map())
		if err != nil {
			return nil, fmt.Errorf("alerts.%s: %w", k, err)
		}
		match[k] = v
	}
	return match, nil
}

// String is the alert's name and labels, as a person reads them in a reason:
// ShipgateHighErrorRate{service="demo", severity="page"}.
func (a Alert) String() string {
	ls := model.LabelSet{}
	for k, v := range a.Labels {
		if k != model.AlertNameLabel {
			ls[model.LabelName(k)] = model.LabelValue(v)
		}
	}
	return a.Name + ls.String()
}

// Measure renders m's queries with vars, queries Prometheus at t and judges the result.
// Any failure to render or query becomes an error-class inconclusive verdict, never a pass.
func (c *Client) Measure(ctx context.Context, m analysis.Metric, vars analysis.Vars, t time.Time) analysis.Verdict {
	return analysis.Judge(m, c.observe(ctx, m, vars, t))
}

func (c *Client) observe(ctx context.Context, m analysis.Metric, vars analysis.Vars, t time.Time) (o analysis.Observation) {
	vm := vars.Map()
	render := func(field, text string) string {
		if o.Err != nil || text == "" {
			return ""
		}
		s, err := analysis.Render(text, vm)
		if err != nil {
			o.Err = fmt.Errorf("%s: %w", field, err)
		}
		return s
	}
	o.Query = render("query", m.Query)
	o.BaselineQuery = render("baselineQuery", m.BaselineQuery)
	if m.MinRequests != nil {
		o.RequestsQuery = render("minRequests.query", m.MinRequests.Query)
	}
	if o.Err != nil {
		return o
	}
	if m.MinRequests != nil {
		vals, err := c.Instant(ctx, o.RequestsQuery, t)
		if err != nil {
			o.Err = err
			return o
		}
		if len(vals) > 0 {
			sum := 0.0
			for _, v := range vals {
				sum += v
			}
			o.Requests = &sum
		}
	}
	if o.Canary, o.Err = c.Instant(ctx, o.Query, t); o.Err != nil {
		return o
	}
	if m.Compare == nil {
		return o
	}
	window, err := model.ParseDuration(vars.Interval)
	if err != nil {
		o.Err = fmt.Errorf("interval %q: %w", vars.Interval, err)
		return o
	}
	step, err := model.ParseDuration(m.Compare.StepOrDefault())
	if err != nil {
		o.Err = fmt.Errorf("compare.step: %w", err)
		return o
	}
	start := t.Add(-time.Duration(window))
	if o.CanarySamples, o.Err = c.Range(ctx, o.Query, start, t, time.Duration(step)); o.Err != nil {
		return o
	}
	o.BaselineSamples, o.Err = c.Range(ctx, o.BaselineQuery, start, t, time.Duration(step))
	return o
}

// WatchAlerts polls the alerts API every interval until an alert matching match fires or until
// passes, and returns the firing alerts (none when until passed quietly). A failed poll does not
// end the watch, since Prometheus may come back within the interval: afterPoll hears of every
// poll with its error (nil on success), for heartbeats and counts. It returns ctx's error when
// ctx ends first.
func (c *Client) WatchAlerts(ctx context.Context, match map[string]string, until time.Time, every time.Duration, afterPoll func(error)) ([]Alert, error) {
	for {
		firing, err := c.FiringAlerts(ctx, match)
		if afterPoll != nil {
			afterPoll(err)
		}
		if len(firing) > 0 {
			return firing, nil
		}
		wait := min(every, time.Until(until))
		if wait <= 0 {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}
