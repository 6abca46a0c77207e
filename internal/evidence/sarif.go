package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SARIF 2.1.0 from staticcheck, golangci-lint, gosec, Semgrep, CodeQL, gitleaks.
//
// A result's level is its own "level"; when absent, a result whose "kind" is not "fail"
// has level none (it is not a problem), else the rule's defaultConfiguration.level, else
// "warning" (SARIF §3.27.10). Its security severity is the "security-severity" property of
// the result or else of its rule (as CodeQL, gosec and Semgrep write it): critical ≥ 9.0,
// high ≥ 7.0. Tools that write it as a word (Semgrep: "CRITICAL", "HIGH", "MEDIUM", "LOW")
// get the lowest score of that CVSS band (sarifSeverityWords); anything else that is not a
// number from 0 to 10 makes the log unreadable, so it can never pass a threshold. Suppressed
// results (a suppression with status accepted or none given) and results whose
// baselineState is "absent" (present in the baseline, gone from this run: fixed) are counted
// apart and do not fail the check.
//
// Params and defaults (a count param takes a whole number or "unlimited"):
//
//	maxErrors    0          results at level error
//	maxWarnings  0          results at level warning ("lint clean", gitleaks' findings)
//	maxNotes     unlimited  results at level note
//	maxCritical  0          results with security-severity ≥ 9.0
//	maxHigh      0          results with security-severity ≥ 7.0 and < 9.0
var sarifParams = map[string]paramSpec{
	"maxErrors":   {kind: kindCount, def: "0", stricter: Lower, doc: "most results at level error; default 0"},
	"maxWarnings": {kind: kindCount, def: "0", stricter: Lower, doc: "most results at level warning; default 0"},
	"maxNotes":    {kind: kindCount, def: "unlimited", stricter: Lower, doc: "most results at level note; default unlimited"},
	"maxCritical": {kind: kindCount, def: "0", stricter: Lower, doc: "most results with security-severity ≥ 9.0; default 0"},
	"maxHigh":     {kind: kindCount, def: "0", stricter: Lower, doc: "most results with security-severity 7.0–8.9; default 0"},
	"tools":       {kind: kindList, stricter: Subset, doc: "the tools whose SARIF is accepted (driver names, case-insensitive, e.g. staticcheck,golangci-lint); every run must be of one and at least one run must be there; unset: any tool"},
}

// SARIFFinding is one unsuppressed result.
type SARIFFinding struct {
	Tool     string
	RuleID   string
	Level    string  // error, warning, note or none
	Severity float64 // security-severity, 0 when not given
	Location string  // "file:line" of the first location, if any
	Message  string
}

// SARIFReport counts the results of all runs in one SARIF log.
type SARIFReport struct {
	Tools      []string
	Errors     int
	Warnings   int
	Notes      int
	Critical   int
	High       int
	Suppressed int
	Absent     int // results the baseline had that this run no longer finds
	// Revisions are the revisions the runs name (versionControlProvenance[].revisionId).
	Revisions []string
	Findings  []SARIFFinding
}

func (r *SARIFReport) add(o SARIFReport) {
	r.Tools = append(r.Tools, o.Tools...)
	r.Errors += o.Errors
	r.Warnings += o.Warnings
	r.Notes += o.Notes
	r.Critical += o.Critical
	r.High += o.High
	r.Suppressed += o.Suppressed
	r.Absent += o.Absent
	r.Findings = append(r.Findings, o.Findings...)
}

type sarifLog struct {
	Version *string    `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool struct {
		Driver     sarifComponent   `json:"driver"`
		Extensions []sarifComponent `json:"extensions"`
	} `json:"tool"`
	Results []sarifResult `json:"results"`
	// VersionControlProvenance names the revision the run analysed (GitHub code scanning and
	// most CI uploaders write it).
	VersionControlProvenance []struct {
		RevisionID string `json:"revisionId"`
	} `json:"versionControlProvenance"`
}

type sarifComponent struct {
	Name  string      `json:"name"`
	Rules []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string `json:"id"`
	DefaultConfiguration *struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
	Properties sarifProps `json:"properties"`
}

type sarifProps map[string]json.RawMessage

type sarifResult struct {
	RuleID    string `json:"ruleId"`
	RuleIndex *int   `json:"ruleIndex"`
	Rule      *struct {
		ID            string `json:"id"`
		Index         *int   `json:"index"`
		ToolComponent *struct {
			Index *int `json:"index"`
		} `json:"toolComponent"`
	} `json:"rule"`
	Level   string `json:"level"`
	Kind    string `json:"kind"`
	Message struct {
		Text string `json:"text"`
	} `json:"message"`
	Locations []struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
			Region struct {
				StartLine int `json:"startLine"`
			} `json:"region"`
		} `json:"physicalLocation"`
	} `json:"locations"`
	Suppressions []struct {
		Status string `json:"status"`
	} `json:"suppressions"`
	BaselineState string     `json:"baselineState"`
	Properties    sarifProps `json:"properties"`
}

// ParseSARIF parses one SARIF 2.1.0 log.
func ParseSARIF(data []byte) (SARIFReport, error) {
	data, err := evidenceText(data)
	if err != nil {
		return SARIFReport{}, err
	}
	var log sarifLog
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&log); err != nil {
		return SARIFReport{}, jsonError(data, err, dec.InputOffset())
	}
	if err := jsonTrailing(dec, data); err != nil {
		return SARIFReport{}, err
	}
	switch {
	case log.Version == nil:
		return SARIFReport{}, posErrorf(1, 1, "no \"version\": not a SARIF log")
	case *log.Version != "2.1.0":
		return SARIFReport{}, posErrorf(1, 1, "SARIF version is not 2.1.0")
	case log.Runs == nil:
		return SARIFReport{}, posErrorf(1, 1, "no \"runs\" array: not a SARIF log")
	}
	var rep SARIFReport
	for i, run := range log.Runs {
		if run.Tool.Driver.Name == "" {
			return SARIFReport{}, fmt.Errorf("runs[%d].tool.driver.name is missing", i)
		}
		rep.Tools = append(rep.Tools, run.Tool.Driver.Name)
		for _, v := range run.VersionControlProvenance {
			rep.Revisions = append(rep.Revisions, v.RevisionID)
		}
		for j, res := range run.Results {
			f, err := sarifFinding(run, res)
			if err != nil {
				return SARIFReport{}, fmt.Errorf("runs[%d].results[%d]: %v", i, j, err)
			}
			if res.BaselineState == "absent" {
				rep.Absent++
				continue
			}
			if suppressed(res) {
				rep.Suppressed++
				continue
			}
			switch f.Level {
			case "error":
				rep.Errors++
			case "warning":
				rep.Warnings++
			case "note":
				rep.Notes++
			}
			switch {
			case f.Severity >= 9:
				rep.Critical++
			case f.Severity >= 7:
				rep.High++
			}
			if f.Level != "none" || f.Severity >= 7 {
				rep.Findings = append(rep.Findings, f)
			}
		}
	}
	return rep, nil
}

func sarifFinding(run sarifRun, res sarifResult) (SARIFFinding, error) {
	rule := findRule(run, res)
	f := SARIFFinding{Tool: run.Tool.Driver.Name, RuleID: res.RuleID, Message: res.Message.Text}
	if f.RuleID == "" && res.Rule != nil {
		f.RuleID = res.Rule.ID
	}
	if f.RuleID == "" && rule != nil {
		f.RuleID = rule.ID
	}
	switch {
	case res.Level != "":
		f.Level = res.Level
	case res.Kind != "" && res.Kind != "fail":
		f.Level = "none"
	case rule != nil && rule.DefaultConfiguration != nil && rule.DefaultConfiguration.Level != "":
		f.Level = rule.DefaultConfiguration.Level
	default:
		f.Level = "warning"
	}
	switch f.Level {
	case "error", "warning", "note", "none":
	default:
		return f, errors.New("level is not error, warning, note or none")
	}
	sev, ok, err := res.Properties.severity()
	if err == nil && !ok && rule != nil {
		sev, _, err = rule.Properties.severity()
	}
	if err != nil {
		return f, err
	}
	f.Severity = sev
	if len(res.Locations) > 0 {
		loc := res.Locations[0].PhysicalLocation
		f.Location = loc.ArtifactLocation.URI
		if loc.Region.StartLine > 0 {
			f.Location += ":" + strconv.Itoa(loc.Region.StartLine)
		}
	}
	return f, nil
}

// findRule finds the rule descriptor a result refers to: by rule.index in the tool
// component rule.toolComponent.index names (CodeQL's query packs), by ruleIndex into the
// driver, or by id in the driver and its extensions.
func findRule(run sarifRun, res sarifResult) *sarifRule {
	comp := &run.Tool.Driver
	idx := res.RuleIndex
	id := res.RuleID
	if res.Rule != nil {
		if res.Rule.Index != nil {
			idx = res.Rule.Index
		}
		if id == "" {
			id = res.Rule.ID
		}
		if tc := res.Rule.ToolComponent; tc != nil && tc.Index != nil {
			if *tc.Index < 0 || *tc.Index >= len(run.Tool.Extensions) {
				return nil
			}
			comp = &run.Tool.Extensions[*tc.Index]
		}
	}
	if idx != nil && *idx >= 0 && *idx < len(comp.Rules) {
		return &comp.Rules[*idx]
	}
	if id == "" {
		return nil
	}
	for _, c := range append([]sarifComponent{run.Tool.Driver}, run.Tool.Extensions...) {
		for i := range c.Rules {
			if c.Rules[i].ID == id {
				return &c.Rules[i]
			}
		}
	}
	return nil
}

// sarifSeverityWords are the words tools write for security-severity, lower-cased, each
// with the lowest score of its CVSS v3 band, so a word is never read as less severe than it
// says.
var sarifSeverityWords = map[string]float64{
	"critical": 9.0,
	"high":     7.0,
	"medium":   4.0, "moderate": 4.0,
	"low":  0.1,
	"info": 0, "informational": 0, "none": 0,
}

// severity reads "security-severity", which tools write as a string ("9.8" or "HIGH") or a
// number.
func (p sarifProps) severity() (float64, bool, error) {
	raw, ok := p["security-severity"]
	if !ok {
		return 0, false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false, nil
	}
	if f, ok := sarifSeverityWords[strings.ToLower(s)]; ok {
		return f, true, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0 && f <= 10) {
		return 0, false, errors.New("security-severity is neither a number from 0 to 10 nor critical, high, medium, low or none")
	}
	return f, true, nil
}

// suppressed: any suppression counts unless one is still under review or was rejected.
func suppressed(res sarifResult) bool {
	if len(res.Suppressions) == 0 {
		return false
	}
	for _, s := range res.Suppressions {
		if s.Status == "underReview" || s.Status == "rejected" {
			return false
		}
	}
	return true
}

// jsonTrailing fails when anything but white space follows the one JSON value.
func jsonTrailing(dec *json.Decoder, data []byte) error {
	off := dec.InputOffset()
	if len(bytes.TrimSpace(data[off:])) > 0 {
		l, c := lineCol(data, off+int64(len(data[off:])-len(bytes.TrimLeft(data[off:], " \t\r\n"))))
		return posErrorf(l, c, "unexpected data after the JSON document")
	}
	return nil
}

func evalSARIF(in Input, p params) Result {
	var rep SARIFReport
	for _, f := range in.Files {
		r, err := ParseSARIF(f.Data)
		if err != nil {
			return fileError(f, err)
		}
		if other := otherCommit(f, in.Commit, r.Revisions); other != "" {
			return failf("%s", other)
		}
		rep.add(r)
	}
	if tools := p.list("tools"); len(tools) > 0 {
		if r := sarifTools(rep, tools); r != nil {
			return *r
		}
	}
	limits := []struct {
		name  string
		param string
		n     int
		match func(SARIFFinding) bool
	}{
		{"critical", "maxCritical", rep.Critical, func(f SARIFFinding) bool { return f.Severity >= 9 }},
		{"high", "maxHigh", rep.High, func(f SARIFFinding) bool { return f.Severity >= 7 && f.Severity < 9 }},
		{"error", "maxErrors", rep.Errors, func(f SARIFFinding) bool { return f.Level == "error" }},
		{"warning", "maxWarnings", rep.Warnings, func(f SARIFFinding) bool { return f.Level == "warning" }},
		{"note", "maxNotes", rep.Notes, func(f SARIFFinding) bool { return f.Level == "note" }},
	}
	var over []string
	for _, l := range limits {
		limit := p.int(l.param)
		if limit == unlimited || l.n <= limit {
			continue
		}
		var examples []string
		for _, f := range rep.Findings {
			if l.match(f) {
				examples = append(examples, f.label())
			}
		}
		over = append(over, fmt.Sprintf("%s > %d: %s", countOf(l.n, l.name), limit, listNames(examples, 3)))
	}
	summary := fmt.Sprintf("%s, %s, %s; %d critical, %d high", plural(rep.Errors, "error"), plural(rep.Warnings, "warning"),
		plural(rep.Notes, "note"), rep.Critical, rep.High)
	if rep.Suppressed > 0 {
		summary += fmt.Sprintf("; %d suppressed", rep.Suppressed)
	}
	if rep.Absent > 0 {
		summary += fmt.Sprintf("; %d fixed since the baseline", rep.Absent)
	}
	if len(rep.Tools) > 0 {
		summary += " (" + strings.Join(uniq(rep.Tools), ", ") + ")"
	}
	if len(over) > 0 {
		return failf("%s; %s", strings.Join(over, "; "), summary)
	}
	return passf("%s", summary)
}

// countOf is "1 warning", "3 warnings", "2 critical" (severities do not take an s).
func countOf(n int, name string) string {
	if name == "critical" || name == "high" {
		return fmt.Sprintf("%d %s", n, name)
	}
	return plural(n, name)
}

func (f SARIFFinding) label() string {
	s := f.RuleID
	if s == "" {
		s = f.Tool
	}
	if f.Location != "" {
		s += " at " + f.Location
	}
	return s
}

func uniq(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// sarifTools fails a report with no run, or with a run of a tool the check does not accept:
// {"runs":[]} is no lint, and a secrets scanner's clean run is no lint either.
func sarifTools(rep SARIFReport, tools []string) *Result {
	if len(rep.Tools) == 0 {
		r := failf("no run of %s in the SARIF (an empty report is not a clean one)", strings.Join(tools, " or "))
		return &r
	}
	for _, got := range uniq(rep.Tools) {
		ok := false
		for _, want := range tools {
			ok = ok || strings.EqualFold(strings.TrimSpace(got), want)
		}
		if !ok {
			r := failf("a run of %q, which this check does not accept (tools: %s)", got, strings.Join(tools, ", "))
			return &r
		}
	}
	return nil
}
