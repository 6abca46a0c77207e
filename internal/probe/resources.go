package probe

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/shipgate/shipgate/internal/analysis"
)

// The resource-usage probe (TypeResourceUsage): what the new version costs on the environment
// it was just deployed to, under the load running there. The series are the version's own
// (labels must name {{.Version}}): measuring the service as a whole would judge the old
// version, which serves until the deploy answers. The workflow runs the check windowSeconds
// after the deploy, so the window holds the new version only.

// minWindow is the shortest window a Prometheus rate can be taken over with its scrapes.
const minWindow = time.Second

func parseResources(typ string, raw, vars map[string]string, p *parsed) error {
	for _, name := range []string{"cpuMax", "memoryMaxMiB", "windowSeconds"} {
		n, err := number(typ, name, raw)
		if err != nil {
			return err
		}
		if *n <= 0 {
			return fmt.Errorf("%s check: param %s: %s is not above 0", typ, name, num(*n))
		}
		switch name {
		case "cpuMax":
			p.cpuMax = *n
		case "memoryMaxMiB":
			p.memMaxMiB = *n
		case "windowSeconds":
			p.window = time.Duration(*n * float64(time.Second)).Round(time.Second)
			if p.window < minWindow {
				return fmt.Errorf("%s check: param windowSeconds: %s is below %v", typ, num(*n), minWindow)
			}
		}
	}
	tmpl := strings.TrimSpace(raw["labels"])
	if tmpl == "" {
		tmpl = DefaultResourceLabels
	}
	labels, err := analysis.Render(tmpl, vars)
	if err != nil {
		return fmt.Errorf("%s check: param labels: %w", typ, err)
	}
	pairs, err := parseLabels(labels)
	if err != nil {
		return fmt.Errorf("%s check: param labels: %w", typ, err)
	}
	namesVersion := false
	var sel []string
	for _, kv := range pairs {
		namesVersion = namesVersion || (vars["Version"] != "" && kv[1] == vars["Version"])
		sel = append(sel, fmt.Sprintf("%s=%q", kv[0], kv[1]))
	}
	if !namesVersion {
		return fmt.Errorf("%s check: param labels: %q selects no version: name the one measured with {{.Version}} (e.g. version={{.Version}})", typ, tmpl)
	}
	metric := func(name, def string) (string, error) {
		m := strings.TrimSpace(raw[name])
		if m == "" {
			return def, nil
		}
		if !model.LegacyValidation.IsValidMetricName(m) {
			return "", fmt.Errorf("%s check: param %s: %q is not a metric name", typ, name, m)
		}
		return m, nil
	}
	cpu, err := metric("cpuMetric", DefaultCPUMetric)
	if err != nil {
		return err
	}
	mem, err := metric("memoryMetric", DefaultMemoryMetric)
	if err != nil {
		return err
	}
	selector, window := strings.Join(sel, ","), model.Duration(p.window).String()
	// average cores over the window, summed over the version's instances; peak memory
	// of each instance over the window, summed
	p.cpuQuery = fmt.Sprintf("sum(rate(%s{%s}[%s]))", cpu, selector, window)
	p.memQuery = fmt.Sprintf("sum(max_over_time(%s{%s}[%s]))", mem, selector, window)
	return nil
}

// resources asks Prometheus what the version used over the window and compares it with the
// limits. No series is an error, never a pass: the version was not measured.
func (p promProbe) resources(ctx context.Context, in parsed, rel Input) result {
	now := time.Now()
	what := fmt.Sprintf("%s %s on %s over %v", rel.Service, rel.Version, rel.Environment, in.window)
	read := func(q string) (float64, result, bool) {
		vals, err := p.c.Instant(ctx, q, now)
		if err != nil {
			return 0, errorf("%s check: %v", TypeResourceUsage, err), false
		}
		if len(vals) == 0 || math.IsNaN(vals[0]) || math.IsInf(vals[0], 0) {
			return 0, errorf("%s: query %s returned no data: the version was not measured (is it deployed there and scraped with these labels?)", what, q), false
		}
		return vals[0], result{}, true
	}
	cores, bad, ok := read(in.cpuQuery)
	if !ok {
		return bad
	}
	bytes, bad, ok := read(in.memQuery)
	if !ok {
		return bad
	}
	mib := bytes / (1 << 20)
	cmp := func(v, limit float64) string {
		if v > limit {
			return ">"
		}
		return "<="
	}
	got := fmt.Sprintf("CPU %s cores %s max %s, memory peak %s MiB %s max %s",
		num(cores), cmp(cores, in.cpuMax), num(in.cpuMax), num(mib), cmp(mib, in.memMaxMiB), num(in.memMaxMiB))
	if cores > in.cpuMax || mib > in.memMaxMiB {
		return failf("%s: %s", what, got)
	}
	return passf("%s: %s", what, got)
}
