// Package probe runs the live checks of quality gates G3 and G4: it asks a running Prometheus
// whether the service's RED series exist, whether its SLO alert rules are loaded and whether a
// resource query is within limits, and asks an HTTP URL whether it answers. Each check gives an
// evidence.Result: pass, fail (the system answered and the answer is wrong) or error (the
// answer could not be had, never a pass).
package probe

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/evidence"
)

// Input is one probe check: its type and params from the policy, and the release it is about.
// Params are text/templates over {{.Service}}, {{.Version}} and {{.Environment}}.
type Input struct {
	Type        string
	Params      map[string]string
	Service     string
	Version     string
	Environment string
}

// The probe types.
const (
	TypeSeries = "prometheus-series" // every query in `queries` (one per line) returns >= 1 series
	TypeRules  = "prometheus-rules"  // alerting rules matching `labels` (k=v,...) and/or `names` (a,b) are loaded and healthy
	TypeQuery  = "prometheus-query"  // every value of `query` is <= `max` and/or >= `min`
	TypeHTTP   = "http"              // `url` answers 2xx, its body containing `contains` if given
	// TypeResourceUsage measures the new version's CPU and memory on the environment over
	// `windowSeconds` after it was deployed there (the workflow waits for the deploy and the
	// window before it asks): average CPU <= `cpuMax` cores, peak memory <= `memoryMaxMiB`.
	// Its series are selected by `labels`, which must name the version.
	TypeResourceUsage = "resource-usage"
)

// The resource-usage probe's defaults: the process metrics every Prometheus client library
// exports, selected by service, environment and version.
const (
	DefaultCPUMetric      = "process_cpu_seconds_total"
	DefaultMemoryMetric   = "process_resident_memory_bytes"
	DefaultResourceLabels = "service={{.Service}},environment={{.Environment}},version={{.Version}}"
)

// param is one param of a probe type: whether it is required, and which way a value makes
// the check harder to pass (a production policy may only move the seed's value that way).
type param struct {
	required bool
	stricter evidence.Stricter
}

// params per type: name → its rule. Queries hold one query a line; names a comma list.
var types = map[string]map[string]param{
	TypeSeries: {"queries": {true, evidence.Superset}},
	TypeRules:  {"labels": {false, evidence.Same}, "names": {false, evidence.Superset}},
	TypeQuery:  {"query": {true, evidence.Same}, "max": {false, evidence.Lower}, "min": {false, evidence.Higher}},
	TypeHTTP:   {"url": {true, evidence.Same}, "contains": {false, evidence.Same}},
	TypeResourceUsage: {"cpuMax": {true, evidence.Lower}, "memoryMaxMiB": {true, evidence.Lower}, "windowSeconds": {true, evidence.Higher},
		"labels": {false, evidence.Same}, "cpuMetric": {false, evidence.Same}, "memoryMetric": {false, evidence.Same}},
	TypeChainCall: chainCallParams,
}

// MeasureWindow is how long after the deploy a resource-usage check measures, and so how long
// the workflow waits after the deploy before it runs the check; ok is false for other checks.
// Params must have been validated (ValidateParams).
func MeasureWindow(typ string, params map[string]string) (w time.Duration, ok bool) {
	if typ != TypeResourceUsage {
		return 0, false
	}
	n, err := number(typ, "windowSeconds", params)
	if err != nil || n == nil {
		return 0, true
	}
	return time.Duration(*n * float64(time.Second)), true
}

// DefaultTimeout bounds a probe when the caller's http.Client has no timeout of its own.
const DefaultTimeout = 30 * time.Second

// maxBody is how much of an HTTP answer is searched for `contains`.
const maxBody = 4 << 20

// Types lists the probe types, sorted.
func Types() []string {
	out := make([]string, 0, len(types))
	for t := range types {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// ValidateParams checks params for typ as the policy loader would: unknown or missing params,
// template syntax, label pairs, numbers and URLs. Errors name the check type and the param.
func ValidateParams(typ string, params map[string]string) error {
	_, err := parse(typ, params, placeholders)
	if err == nil {
		// twice, so that a rule about what a template renders to (resource-usage labels name
		// the version) holds for any release, not only for the placeholder's
		_, err = parse(typ, params, otherPlaceholders)
	}
	return err
}

// placeholders render templates at validation time, when the release is not known yet.
var (
	placeholders      = map[string]string{"Service": "service", "Version": "v0.0.0", "Environment": "env"}
	otherPlaceholders = map[string]string{"Service": "service2", "Version": "v9.9.9", "Environment": "env2"}
)

// Evaluate runs the check. prometheusURL is needed by the prometheus-* types; httpClient may be
// nil (a client with DefaultTimeout is used).
func Evaluate(ctx context.Context, in Input, prometheusURL string, httpClient *http.Client) evidence.Result {
	vars := map[string]string{}
	for k, v := range map[string]string{"Service": in.Service, "Version": in.Version, "Environment": in.Environment} {
		if v != "" {
			vars[k] = v
		}
	}
	p, err := parse(in.Type, in.Params, vars)
	if err != nil {
		return errorf("%v", err)
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	if httpClient.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	if in.Type == TypeHTTP {
		return probeHTTP(ctx, httpClient, p)
	}
	if in.Type == TypeChainCall {
		return probeChainCall(ctx, p)
	}
	if prometheusURL == "" {
		return errorf("%s check: no Prometheus URL configured", in.Type)
	}
	c, err := newProm(prometheusURL, httpClient)
	if err != nil {
		return errorf("%s check: %v", in.Type, err)
	}
	switch in.Type {
	case TypeSeries:
		return c.series(ctx, p)
	case TypeRules:
		return c.rules(ctx, p)
	case TypeResourceUsage:
		return c.resources(ctx, p, in)
	default:
		return c.query(ctx, p)
	}
}

// parsed holds rendered, checked params.
type parsed struct {
	queries  []string
	labels   [][2]string
	names    []string
	query    string
	max, min *float64
	url      string
	contains string
	// resource-usage
	cpuQuery, memQuery string
	cpuMax, memMaxMiB  float64
	window             time.Duration
	call               *chainCall
}

func parse(typ string, raw map[string]string, vars map[string]string) (parsed, error) {
	var p parsed
	known, ok := types[typ]
	if !ok {
		return p, fmt.Errorf("probe: unknown check type %q (known: %s)", typ, strings.Join(Types(), ", "))
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, ok := known[name]; !ok {
			return p, fmt.Errorf("%s check: unknown param %q (known: %s)", typ, name, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(known)) {
		if known[name].required && strings.TrimSpace(raw[name]) == "" {
			return p, fmt.Errorf("%s check: param %s: required", typ, name)
		}
	}
	get := func(name string) (string, error) {
		s, err := analysis.Render(raw[name], vars)
		if err != nil {
			return "", fmt.Errorf("%s check: param %s: %w", typ, name, err)
		}
		return strings.TrimSpace(s), nil
	}
	var err error
	switch typ {
	case TypeSeries:
		q, err := get("queries")
		if err != nil {
			return p, err
		}
		for line := range strings.SplitSeq(q, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				p.queries = append(p.queries, line)
			}
		}
	case TypeRules:
		if strings.TrimSpace(raw["labels"]) == "" && strings.TrimSpace(raw["names"]) == "" {
			return p, fmt.Errorf("%s check: params labels and names: at least one is required", typ)
		}
		l, err := get("labels")
		if err != nil {
			return p, err
		}
		if p.labels, err = parseLabels(l); err != nil {
			return p, fmt.Errorf("%s check: param labels: %w", typ, err)
		}
		n, err := get("names")
		if err != nil {
			return p, err
		}
		for name := range strings.SplitSeq(n, ",") {
			if name = strings.TrimSpace(name); name != "" {
				p.names = append(p.names, name)
			}
		}
	case TypeQuery:
		if p.query, err = get("query"); err != nil {
			return p, err
		}
		if p.max, err = number(typ, "max", raw); err != nil {
			return p, err
		}
		if p.min, err = number(typ, "min", raw); err != nil {
			return p, err
		}
		if p.max == nil && p.min == nil {
			return p, fmt.Errorf("%s check: params max and min: at least one is required", typ)
		}
		if p.max != nil && p.min != nil && *p.min > *p.max {
			return p, fmt.Errorf("%s check: param min: %v is above max %v", typ, *p.min, *p.max)
		}
	case TypeResourceUsage:
		if err := parseResources(typ, raw, vars, &p); err != nil {
			return p, err
		}
	case TypeChainCall:
		if err := parseChainCall(typ, get, raw, &p); err != nil {
			return p, err
		}
	case TypeHTTP:
		if p.url, err = get("url"); err != nil {
			return p, err
		}
		u, err := url.Parse(p.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return p, fmt.Errorf("%s check: param url: %q is not an http(s) URL", typ, p.url)
		}
		if p.contains, err = get("contains"); err != nil {
			return p, err
		}
	}
	return p, nil
}

// parseLabels reads "k=v, k2=v2" into pairs; names must be Prometheus label names.
func parseLabels(s string) ([][2]string, error) {
	var out [][2]string
	for i, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok {
			return nil, fmt.Errorf("item %d %q: want name=value", i+1, pair)
		}
		if !model.LegacyValidation.IsValidLabelName(k) {
			return nil, fmt.Errorf("item %d %q: %q is not a label name", i+1, pair, k)
		}
		out = append(out, [2]string{k, strings.Trim(v, `"`)})
	}
	return out, nil
}

func number(typ, name string, raw map[string]string) (*float64, error) {
	s := strings.TrimSpace(raw[name])
	if s == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%s check: param %s: %q is not a finite number", typ, name, s)
	}
	return &f, nil
}

func errorf(format string, args ...any) result {
	return evidence.Result{Outcome: evidence.Error, Detail: fmt.Sprintf(format, args...)}
}

func failf(format string, args ...any) result {
	return evidence.Result{Outcome: evidence.Fail, Detail: fmt.Sprintf(format, args...)}
}

func passf(format string, args ...any) result {
	return evidence.Result{Outcome: evidence.Pass, Detail: fmt.Sprintf(format, args...)}
}

// result is evidence.Result, the verdict every check kind shares.
type result = evidence.Result
