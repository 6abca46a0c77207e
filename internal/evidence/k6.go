package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// k6's --summary-export JSON: {"metrics": {name: {stats…, "thresholds": {expr: bool}}}, …}.
// Trend stats are keyed as k6 prints them ("avg", "med", "p(90)", "p(95)"; "p(99)" only when
// the run asked for it with --summary-trend-stats). A Rate metric such as http_req_failed has
// "value" (the fraction of true samples: for http_req_failed, failed requests). In this
// format a threshold's boolean is true when the threshold FAILED (a long-standing k6 quirk
// kept for compatibility), so any true fails the check.
//
// Params: maxP95Ms, maxP99Ms (milliseconds; no limit unless set) and maxFailRate (fraction
// of failed requests from 0 to 1; default 0.01, k6's usual "rate<0.01").

var k6Params = map[string]paramSpec{
	"maxP95Ms":    {kind: kindMillis, stricter: Lower, doc: "largest http_req_duration p(95) in ms; no limit unless set"},
	"maxP99Ms":    {kind: kindMillis, stricter: Lower, doc: "largest http_req_duration p(99) in ms; no limit unless set (needs --summary-trend-stats with p(99))"},
	"maxFailRate": {kind: kindFraction, def: "0.01", stricter: Lower, doc: "largest http_req_failed rate (0–1); default 0.01"},
}

// K6Summary is what the check reads from a summary export.
type K6Summary struct {
	Metrics map[string]K6Metric
}

// K6Metric is one metric's stats (keyed as k6 writes them) and thresholds.
type K6Metric struct {
	Stats      map[string]float64
	Thresholds map[string]bool // true = the threshold failed
}

// FailedThresholds lists "metric: expression" for every failed threshold, sorted.
func (s K6Summary) FailedThresholds() []string {
	var out []string
	for name, m := range s.Metrics {
		for expr, failed := range m.Thresholds {
			if failed {
				out = append(out, fmt.Sprintf("%s %s", name, expr))
			}
		}
	}
	sort.Strings(out)
	return out
}

// ParseK6Summary parses a k6 --summary-export file.
func ParseK6Summary(data []byte) (K6Summary, error) {
	var raw struct {
		Metrics map[string]map[string]json.RawMessage `json:"metrics"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return K6Summary{}, jsonError(data, err, dec.InputOffset())
	}
	if err := jsonTrailing(dec, data); err != nil {
		return K6Summary{}, err
	}
	if raw.Metrics == nil {
		return K6Summary{}, posErrorf(1, 1, "no \"metrics\" object: not a k6 --summary-export file")
	}
	s := K6Summary{Metrics: map[string]K6Metric{}}
	for name, fields := range raw.Metrics {
		m := K6Metric{Stats: map[string]float64{}, Thresholds: map[string]bool{}}
		for key, val := range fields {
			if key == "thresholds" {
				if err := json.Unmarshal(val, &m.Thresholds); err != nil {
					return K6Summary{}, fmt.Errorf("metrics.%s.thresholds: want an object of booleans: %v", name, err)
				}
				continue
			}
			var f float64
			if err := json.Unmarshal(val, &f); err != nil {
				return K6Summary{}, fmt.Errorf("metrics.%s.%s: want a number, got %s", name, key, truncate(string(val), 30))
			}
			m.Stats[key] = f
		}
		s.Metrics[name] = m
	}
	return s, nil
}

func evalK6(in Input, p params) Result {
	var problems, summary []string
	for _, f := range in.Files {
		s, err := ParseK6Summary(f.Data)
		if err != nil {
			return fileError(f, err)
		}
		prefix := ""
		if len(in.Files) > 1 {
			prefix = baseName(f.Name) + ": "
		}
		dur, hasDur := s.Metrics["http_req_duration"]
		for _, lim := range []struct{ param, stat string }{{"maxP95Ms", "p(95)"}, {"maxP99Ms", "p(99)"}} {
			limit, set := p.optFloat(lim.param)
			v, ok := dur.Stats[lim.stat]
			switch {
			case set && !ok:
				return errorf("%s: http_req_duration has no %s (run k6 with --summary-trend-stats including it)", f.Name, lim.stat)
			case ok && set && v > limit:
				problems = append(problems, fmt.Sprintf("%shttp_req_duration %s %.1f ms > %s ms", prefix, lim.stat, v, trimFloat(limit)))
			case ok:
				summary = append(summary, fmt.Sprintf("%s%s %.1f ms", prefix, lim.stat, v))
			}
		}
		failed, hasFailed := s.Metrics["http_req_failed"]
		if !hasDur || !hasFailed {
			return errorf("%s: no http_req_duration or http_req_failed metric: the test made no HTTP requests", f.Name)
		}
		rate, ok := failed.Stats["value"]
		if !ok {
			return errorf("%s: http_req_failed has no \"value\"", f.Name)
		}
		if maxRate := p.float("maxFailRate"); rate > maxRate {
			problems = append(problems, fmt.Sprintf("%shttp_req_failed %.2f %% > %s %%", prefix, rate*100, trimFloat(maxRate*100)))
		} else {
			summary = append(summary, fmt.Sprintf("%sfailed %.2f %%", prefix, rate*100))
		}
		if bad := s.FailedThresholds(); len(bad) > 0 {
			problems = append(problems, fmt.Sprintf("%sk6 thresholds failed: %s", prefix, listNames(bad, 5)))
		}
	}
	if len(problems) > 0 {
		return failf("%s", strings.Join(problems, "; "))
	}
	return passf("%s; all k6 thresholds passed", strings.Join(summary, ", "))
}
