package probe

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/shipgate/shipgate/internal/analysis/prom"
)

type promProbe struct{ c *prom.Client }

func newProm(address string, hc *http.Client) (promProbe, error) {
	c, err := prom.New(address, hc)
	return promProbe{c}, err
}

func (p promProbe) series(ctx context.Context, in parsed) result {
	now := time.Now()
	var counts []string
	for _, q := range in.queries {
		vals, err := p.c.Instant(ctx, q, now)
		if err != nil {
			return errorf("%s check: %v", TypeSeries, err)
		}
		if len(vals) == 0 {
			return failf("query %s returned no series", q)
		}
		counts = append(counts, strconv.Itoa(len(vals)))
	}
	return passf("%d queries returned series (%s series)", len(in.queries), strings.Join(counts, ", "))
}

func (p promProbe) rules(ctx context.Context, in parsed) result {
	res, err := p.c.API().Rules(ctx, nil)
	if err != nil {
		return errorf("%s check: prometheus rules: %v", TypeRules, err)
	}
	var found []v1.AlertingRule
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			if ar, ok := r.(v1.AlertingRule); ok && hasLabels(ar, in.labels) {
				found = append(found, ar)
			}
		}
	}
	scope := describe(in.labels)
	if len(in.names) == 0 {
		if len(found) == 0 {
			return failf("no alert rule loaded for %s", scope)
		}
		var names []string
		for _, r := range found {
			names = append(names, r.Name)
		}
		return healthy(found, fmt.Sprintf("%d alert rules loaded for %s: %s", len(found), scope, strings.Join(names, ", ")))
	}
	var missing []string
	var chosen []v1.AlertingRule
	for _, n := range in.names {
		i := indexRule(found, n)
		if i < 0 {
			missing = append(missing, n)
			continue
		}
		chosen = append(chosen, found[i])
	}
	if len(missing) == 1 {
		return failf("rule %s not loaded for %s", missing[0], scope)
	}
	if len(missing) > 1 {
		return failf("rules %s not loaded for %s", strings.Join(missing, ", "), scope)
	}
	return healthy(chosen, fmt.Sprintf("rules %s loaded for %s", strings.Join(in.names, ", "), scope))
}

// healthy fails when a rule is loaded but Prometheus cannot evaluate it: it would never fire.
func healthy(rules []v1.AlertingRule, ok string) result {
	for _, r := range rules {
		if r.Health == v1.RuleHealthBad {
			return failf("rule %s is loaded but failing to evaluate: %s", r.Name, r.LastError)
		}
	}
	return passf("%s", ok)
}

func indexRule(rules []v1.AlertingRule, name string) int {
	for i, r := range rules {
		if r.Name == name {
			return i
		}
	}
	return -1
}

func hasLabels(r v1.AlertingRule, want [][2]string) bool {
	for _, kv := range want {
		if string(r.Labels[lname(kv[0])]) != kv[1] {
			return false
		}
	}
	return true
}

// describe names the scope in detail lines: "service demo" when the labels are just the
// service, else the label pairs.
func describe(labels [][2]string) string {
	if len(labels) == 0 {
		return "any labels"
	}
	if len(labels) == 1 && labels[0][0] == "service" {
		return "service " + labels[0][1]
	}
	var parts []string
	for _, kv := range labels {
		parts = append(parts, kv[0]+"="+kv[1])
	}
	return strings.Join(parts, ",")
}

func (p promProbe) query(ctx context.Context, in parsed) result {
	vals, err := p.c.Instant(ctx, in.query, time.Now())
	if err != nil {
		return errorf("%s check: %v", TypeQuery, err)
	}
	if len(vals) == 0 {
		return errorf("query %s returned no data: cannot tell whether it is within limits", in.query)
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errorf("query %s returned %v: cannot tell whether it is within limits", in.query, v)
		}
		if in.max != nil && v > *in.max {
			return failf("query %s = %s > max %s", in.query, num(v), num(*in.max))
		}
		if in.min != nil && v < *in.min {
			return failf("query %s = %s < min %s", in.query, num(v), num(*in.min))
		}
	}
	return passf("query %s within limits (%s)", in.query, limits(vals, in))
}

func limits(vals []float64, in parsed) string {
	var parts []string
	for _, v := range vals {
		parts = append(parts, num(v))
	}
	s := strings.Join(parts, ", ")
	if in.max != nil {
		s += " <= max " + num(*in.max)
	}
	if in.min != nil {
		s += " >= min " + num(*in.min)
	}
	return s
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

func lname(s string) model.LabelName { return model.LabelName(s) }
