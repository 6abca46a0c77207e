package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// k6 writes its end-of-test summary as JSON two ways, and both are read:
//
//   - --summary-export: {"metrics": {name: {stats…, "thresholds": {expr: bool}}}, …}. A
//     threshold's boolean is true when the threshold FAILED (a long-standing k6 quirk kept
//     for compatibility). A Rate metric such as http_req_failed has "value", the fraction
//     of true samples (for http_req_failed, failed requests).
//   - handleSummary(data) returning JSON.stringify(data): {"metrics": {name: {"type",
//     "contains", "values": {stats…}, "thresholds": {expr: {"ok": bool}}}}, …}, where ok is
//     true when the threshold passed, and a Rate metric's fraction is values.rate.
//
// Trend stats are keyed as k6 prints them ("avg", "med", "p(90)", "p(95)"). k6 exports only
// the stats it was asked for, by default avg, min, med, max, p(90) and p(95): a policy that
// sets maxP99Ms needs the run to ask for p(99) with k6TrendStatsFlag.
//
// Params: maxP95Ms, maxP99Ms (milliseconds; no limit unless set) and maxFailRate (fraction
// of failed requests from 0 to 1; default 0.01, k6's usual "rate<0.01").

// k6TrendStatsFlag is the k6 run option that exports every stat the check can judge.
const k6TrendStatsFlag = `--summary-trend-stats "avg,min,med,max,p(90),p(95),p(99)"`

var k6Params = map[string]paramSpec{
	"maxP95Ms":      {kind: kindMillis, stricter: Lower, doc: "largest http_req_duration p(95) in ms; no limit unless set"},
	"maxP99Ms":      {kind: kindMillis, stricter: Lower, doc: "largest http_req_duration p(99) in ms; no limit unless set; k6 exports p(99) only when run with " + k6TrendStatsFlag},
	"maxFailRate":   {kind: kindFraction, def: "0.01", stricter: Lower, doc: "largest http_req_failed rate (0–1); default 0.01"},
	"minRequests":   {kind: kindPositiveInt, def: "1000", stricter: Higher, doc: "least number of HTTP requests the test made (http_reqs count); default 1000"},
	"minDurationMs": {kind: kindMillis, def: "60000", stricter: Higher, doc: "least length of the test in ms (http_reqs count ÷ rate); default 60000"},
}

// K6Summary is what the check reads from a summary export.
type K6Summary struct {
	Metrics map[string]K6Metric
}

// K6Metric is one metric's stats (keyed as k6 writes them) and thresholds.
type K6Metric struct {
	Type       string             // handleSummary's metric type (trend, rate, counter, gauge); "" in --summary-export
	Stats      map[string]float64 // a Rate metric's fraction is under "value" in both forms
	Thresholds map[string]bool    // true = the threshold failed
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

// k6Reader walks a summary with a token decoder, in file order, so that an error is the
// same on every run and gives the position of the value, not the file's own words.
type k6Reader struct {
	dec  *json.Decoder
	data []byte
}

// at is the position of the next value: after the white space, colon or comma before it.
func (r *k6Reader) at() *PosError {
	off := r.dec.InputOffset()
	rest := r.data[off:]
	off += int64(len(rest) - len(bytes.TrimLeft(rest, " \t\r\n:,")))
	l, c := lineCol(r.data, off)
	return &PosError{Line: l, Column: c}
}

func (r *k6Reader) fail(pos *PosError, reason string) error {
	pos.Reason = reason
	return pos
}

// object reads the '{' that opens an object, or fails with what the value should be.
func (r *k6Reader) object(what string) error {
	pos := r.at()
	tok, err := r.dec.Token()
	if err != nil {
		return r.tokenError(pos, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return r.fail(pos, what+": want a JSON object")
	}
	return nil
}

// key reads the next key of an open object; ok is false at its closing '}'.
func (r *k6Reader) key() (string, bool, error) {
	pos := r.at()
	if !r.dec.More() {
		if _, err := r.dec.Token(); err != nil {
			return "", false, r.tokenError(pos, err)
		}
		return "", false, nil
	}
	tok, err := r.dec.Token()
	if err != nil {
		return "", false, r.tokenError(pos, err)
	}
	return tok.(string), true, nil // encoding/json returns object keys as strings
}

// tokenError places a failed Token at the value it was reading: Token reports offsets
// differently from Decode, so the position taken before the call is the one to give.
func (r *k6Reader) tokenError(pos *PosError, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		l, c := lineCol(r.data, int64(len(r.data)))
		return posErrorf(l, c, "JSON ends early")
	}
	return r.fail(pos, "invalid JSON: unexpected character")
}

// value decodes the next value into v, or fails with reason at its position.
func (r *k6Reader) value(v any, reason string) error {
	pos := r.at()
	if err := r.dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
			return jsonError(r.data, err, r.dec.InputOffset())
		}
		return r.fail(pos, reason)
	}
	return nil
}

// ParseK6Summary parses a k6 --summary-export file or handleSummary's JSON.
func ParseK6Summary(data []byte) (K6Summary, error) {
	data, err := evidenceText(data)
	if err != nil {
		return K6Summary{}, err
	}
	r := &k6Reader{dec: json.NewDecoder(bytes.NewReader(data)), data: data}
	if err := r.object("the summary"); err != nil {
		return K6Summary{}, err
	}
	var s K6Summary
	for {
		key, ok, err := r.key()
		if err != nil {
			return K6Summary{}, err
		}
		if !ok {
			break
		}
		if key != "metrics" {
			if err := r.value(new(json.RawMessage), "invalid JSON"); err != nil {
				return K6Summary{}, err
			}
			continue
		}
		if s.Metrics, err = r.metrics(); err != nil {
			return K6Summary{}, err
		}
	}
	if err := jsonTrailing(r.dec, data); err != nil {
		return K6Summary{}, err
	}
	if s.Metrics == nil {
		return K6Summary{}, posErrorf(1, 1, "no \"metrics\" object: not a k6 --summary-export or handleSummary JSON file")
	}
	return s, nil
}

func (r *k6Reader) metrics() (map[string]K6Metric, error) {
	if err := r.object("metrics"); err != nil {
		return nil, err
	}
	out := map[string]K6Metric{}
	for {
		name, ok, err := r.key()
		if err != nil || !ok {
			return out, err
		}
		if err := r.object("a metric"); err != nil {
			return nil, err
		}
		m := K6Metric{Stats: map[string]float64{}, Thresholds: map[string]bool{}}
		for {
			field, ok, err := r.key()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			switch field {
			case "type":
				err = r.value(&m.Type, "a metric's type: want a string")
			case "contains":
				err = r.value(new(string), "a metric's contains: want a string")
			case "values": // handleSummary
				err = r.value(&m.Stats, "a metric's values: want an object of numbers")
			case "thresholds":
				err = r.thresholds(&m)
			default: // --summary-export
				var f float64
				if err = r.value(&f, "a metric's stat: want a number"); err == nil {
					m.Stats[field] = f
				}
			}
			if err != nil {
				return nil, err
			}
		}
		if rate, ok := m.Stats["rate"]; ok && m.Type == "rate" {
			if _, has := m.Stats["value"]; !has {
				m.Stats["value"] = rate
			}
		}
		out[name] = m
	}
}

// thresholds reads either form: true = failed (--summary-export) or {"ok": true} = passed
// (handleSummary).
func (r *k6Reader) thresholds(m *K6Metric) error {
	const reason = "a metric's thresholds: want an object of true/false (--summary-export) or of {\"ok\": true/false} (handleSummary)"
	var raw map[string]json.RawMessage
	pos := r.at()
	if err := r.value(&raw, reason); err != nil {
		return err
	}
	for expr, v := range raw {
		var failed bool
		var obj struct {
			OK *bool `json:"ok"`
		}
		switch {
		case json.Unmarshal(v, &failed) == nil:
		case json.Unmarshal(v, &obj) == nil && obj.OK != nil:
			failed = !*obj.OK
		default:
			return r.fail(pos, reason)
		}
		m.Thresholds[expr] = failed
	}
	return nil
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
				return errorf("%s: http_req_duration has no %s, which the policy's %s needs: k6 exports only the trend stats it is asked for (by default up to p(95)); run k6 with %s",
					f.Name, lim.stat, lim.param, k6TrendStatsFlag)
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
		problems = append(problems, k6Volume(prefix, s, p)...)
		if bad := s.FailedThresholds(); len(bad) > 0 {
			problems = append(problems, fmt.Sprintf("%sk6 thresholds failed: %s", prefix, listNames(bad, 5)))
		}
	}
	if len(problems) > 0 {
		return failf("%s", strings.Join(problems, "; "))
	}
	return passf("%s; all k6 thresholds passed", strings.Join(summary, ", "))
}

// k6Volume fails a test too small to say anything (issue 12: a summary of one request passed):
// fewer requests than minRequests, or shorter than minDurationMs. k6 writes the duration only
// as http_reqs' rate (count per second of the test), so the length is count ÷ rate.
func k6Volume(prefix string, s K6Summary, p params) []string {
	minReqs, minMs := p.int("minRequests"), p.float("minDurationMs")
	if minReqs <= 1 && minMs == 0 {
		return nil // the policy asks for no volume
	}
	reqs, ok := s.Metrics["http_reqs"]
	count, hasCount := reqs.Stats["count"]
	rate, hasRate := reqs.Stats["rate"]
	if !ok || !hasCount || !hasRate || rate <= 0 {
		return []string{prefix + "no http_reqs count and rate: the test's volume and length are unknown"}
	}
	var out []string
	if count < float64(minReqs) {
		out = append(out, fmt.Sprintf("%s%.0f requests < minRequests %d", prefix, count, minReqs))
	}
	if ms := count / rate * 1000; ms < minMs {
		out = append(out, fmt.Sprintf("%stest ran %.1f s < minDurationMs %s", prefix, ms/1000, trimFloat(minMs)))
	}
	return out
}
