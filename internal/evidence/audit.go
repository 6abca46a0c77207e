package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Audit reports are small YAML files, one per report, that the release manager writes from
// an audit firm's published report (see testdata/audit/README.md):
//
//	firm: Trail of Bits            # who audited; distinct firms are counted case-insensitively
//	date: 2026-10-01               # when the report was issued, YYYY-MM-DD
//	reportURL: https://…/report.pdf  # where it is published (http or https)
//	findings:                      # may be empty: []
//	  - id: TOB-3                  # unique within the file
//	    severity: high             # critical | high | medium | low | info
//	    status: fixed              # fixed | acknowledged | open
//	    justification: ""          # why an acknowledged finding is acceptable
//
// The check passes when there are at least minReports reports (default 2) from distinct
// firms, no critical or high finding is open, every acknowledged critical, high or medium
// finding has a justification, and no medium finding is open. When Input.CheckURL is set,
// every reportURL must be reachable.

var auditParams = map[string]paramSpec{
	"minReports":           {kind: kindPositiveInt, def: "2", stricter: Higher, doc: "least number of reports from distinct firms; default 2"},
	"failAcknowledgedHigh": {kind: kindBool, def: "true", stricter: Higher, doc: "a critical or high finding must be fixed: acknowledged (accepted) ones fail; default true"},
	// Read by the worker's reachability check (probe.Reachability), not by the parser.
	"allowHosts": {kind: kindList, stricter: AnyValue, doc: "report hosts whose private addresses the reachability check may reach (an internal report server); loopback and link-local never"},
}

// Audit report fields, finding fields, severities and statuses.
var (
	auditFields        = []string{"firm", "date", "reportURL", "findings"}
	auditOptional      = []string{"commit"} // the commit the firm audited
	auditFindingFields = []string{"id", "severity", "status", "justification"}
	auditSeverities    = []string{"critical", "high", "medium", "low", "info"}
	auditStatuses      = []string{"fixed", "acknowledged", "open"}
)

// AuditFinding is one finding of an audit report.
type AuditFinding struct {
	ID            string
	Severity      string
	Status        string
	Justification string
	Line          int
}

// AuditReport is one audit report file.
type AuditReport struct {
	Firm      string
	Date      time.Time
	ReportURL string
	Findings  []AuditFinding
	// Commit is the full SHA of the code the firm audited, when the report names it.
	Commit string
}

// ParseAudit parses and validates one audit report.
func ParseAudit(data []byte) (AuditReport, error) {
	data, err := evidenceText(data)
	if err != nil {
		return AuditReport{}, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return AuditReport{}, posErrorf(1, 0, "empty audit report")
		}
		return AuditReport{}, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return AuditReport{}, yamlError(err)
		}
		return AuditReport{}, posErrorf(line, 0, "more than one YAML document: one file holds one report")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return AuditReport{}, posErrorf(root.Line, root.Column, "audit report must be a mapping with firm, date, reportURL and findings")
	}
	var rep AuditReport
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if !slices.Contains(auditFields, k.Value) && !slices.Contains(auditOptional, k.Value) {
			return AuditReport{}, posErrorf(k.Line, k.Column, "unknown field (want %s)", strings.Join(append(append([]string(nil), auditFields...), auditOptional...), ", "))
		}
		if seen[k.Value] {
			return AuditReport{}, posErrorf(k.Line, k.Column, "field %s given twice", k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "firm":
			rep.Firm, err = scalarString(v, "firm")
		case "date":
			var s string
			if s, err = scalarString(v, "date"); err == nil {
				if rep.Date, err = time.Parse(time.DateOnly, s); err != nil {
					err = posErrorf(v.Line, v.Column, "field date is not a date YYYY-MM-DD")
				}
			}
		case "reportURL":
			if rep.ReportURL, err = scalarString(v, "reportURL"); err == nil {
				u, perr := url.Parse(rep.ReportURL)
				if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					err = posErrorf(v.Line, v.Column, "field reportURL is not an http(s) URL")
				}
			}
		case "findings":
			rep.Findings, err = auditFindings(v)
		case "commit":
			if rep.Commit, err = scalarString(v, "commit"); err == nil && !fullSHA(rep.Commit) {
				err = posErrorf(v.Line, v.Column, "field commit is not a full commit SHA (40 or 64 hex digits)")
			}
		}
		if err != nil {
			return AuditReport{}, err
		}
	}
	for _, f := range auditFields {
		if !seen[f] {
			return AuditReport{}, posErrorf(root.Line, root.Column, "field %s is missing", f)
		}
	}
	return rep, nil
}

func auditFindings(v *yaml.Node) ([]AuditFinding, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, posErrorf(v.Line, v.Column, "field findings must be a list (use [] for none)")
	}
	var out []AuditFinding
	ids := map[string]int{}
	for n, item := range v.Content {
		if item.Kind != yaml.MappingNode {
			return nil, posErrorf(item.Line, item.Column, "findings[%d] must be a mapping with id, severity, status", n)
		}
		f := AuditFinding{Line: item.Line}
		seen := map[string]bool{}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, val := item.Content[i], item.Content[i+1]
			if !slices.Contains(auditFindingFields, k.Value) {
				return nil, posErrorf(k.Line, k.Column, "findings[%d]: unknown field (want %s)", n, strings.Join(auditFindingFields, ", "))
			}
			if seen[k.Value] {
				return nil, posErrorf(k.Line, k.Column, "findings[%d]: field %s given twice", n, k.Value)
			}
			seen[k.Value] = true
			field := fmt.Sprintf("findings[%d].%s", n, k.Value)
			var err error
			switch k.Value {
			case "id":
				f.ID, err = scalarString(val, field)
			case "severity":
				f.Severity, err = scalarEnum(val, field, auditSeverities)
			case "status":
				f.Status, err = scalarEnum(val, field, auditStatuses)
			case "justification":
				f.Justification, err = scalarString(val, field)
				f.Justification = strings.TrimSpace(f.Justification)
			}
			if err != nil {
				return nil, err
			}
		}
		for _, req := range []string{"id", "severity", "status"} {
			if !seen[req] {
				return nil, posErrorf(item.Line, item.Column, "findings[%d]: field %s is missing", n, req)
			}
		}
		if first, dup := ids[f.ID]; dup {
			return nil, posErrorf(item.Line, item.Column, "findings[%d]: its id is already used at line %d", n, first)
		}
		ids[f.ID] = item.Line
		out = append(out, f)
	}
	return out, nil
}

// yamlError rewrites a YAML library error without echoing the file: its line, and its words
// only when they quote nothing (messages such as an unknown anchor's quote the document).
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, convErr := strconv.Atoi(num); convErr == nil {
				line, msg = n, after
			}
		}
	}
	if strings.ContainsAny(msg, "'\"`%") || strings.Contains(msg, "\n") {
		msg = "malformed YAML"
	}
	return posErrorf(line, 0, "invalid YAML: %s", msg)
}

// scalarString reads a non-empty string scalar (justification may be empty).
func scalarString(v *yaml.Node, field string) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", posErrorf(v.Line, v.Column, "field %s must be a single value", field)
	}
	if strings.TrimSpace(v.Value) == "" && !strings.HasSuffix(field, "justification") {
		return "", posErrorf(v.Line, v.Column, "field %s is empty", field)
	}
	return v.Value, nil
}

func scalarEnum(v *yaml.Node, field string, allowed []string) (string, error) {
	s, err := scalarString(v, field)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", posErrorf(v.Line, v.Column, "field %s is not one of %s", field, strings.Join(allowed, ", "))
}

func evalAudit(in Input, p params) Result {
	minReports := p.int("minReports")
	firms := map[string]bool{}
	var names []string
	var openHigh, openMedium, ackHigh, unjustified, unreachable, wrongCommit []string
	for _, f := range in.Files {
		r, err := ParseAudit(f.Data)
		if err != nil {
			return fileError(f, err)
		}
		key := strings.ToLower(strings.TrimSpace(r.Firm))
		if !firms[key] {
			firms[key] = true
			names = append(names, r.Firm)
		}
		if other := otherCommit(f, in.Commit, []string{r.Commit}); other != "" {
			wrongCommit = append(wrongCommit, other)
		}
		for _, fd := range r.Findings {
			serious := fd.Severity == "critical" || fd.Severity == "high"
			switch {
			case fd.Status == "open" && serious:
				openHigh = append(openHigh, fd.ID)
			case fd.Status == "open" && fd.Severity == "medium":
				openMedium = append(openMedium, fd.ID)
			case fd.Status == "acknowledged" && serious && p.bool("failAcknowledgedHigh"):
				ackHigh = append(ackHigh, fd.ID)
			case fd.Status == "acknowledged" && (serious || fd.Severity == "medium") && fd.Justification == "":
				unjustified = append(unjustified, fd.ID)
			}
		}
		if in.CheckURL != nil {
			if err := in.CheckURL(r.ReportURL); err != nil {
				unreachable = append(unreachable, fmt.Sprintf("%s (%s: %v)", r.ReportURL, baseName(f.Name), err))
			}
		}
	}
	sort.Strings(names)
	var problems []string
	if len(firms) < minReports {
		problems = append(problems, fmt.Sprintf("%d of %d required reports from distinct firms", len(firms), minReports))
	}
	if len(openHigh) > 0 {
		problems = append(problems, fmt.Sprintf("%s: %s", plural(len(openHigh), "open critical/high finding"), listNames(openHigh, 5)))
	}
	if len(openMedium) > 0 {
		problems = append(problems, fmt.Sprintf("%s: %s", plural(len(openMedium), "open medium finding"), listNames(openMedium, 5)))
	}
	problems = append(problems, wrongCommit...)
	if len(ackHigh) > 0 {
		problems = append(problems, fmt.Sprintf("%s (critical and high findings must be fixed): %s", plural(len(ackHigh), "acknowledged critical/high finding"), listNames(ackHigh, 5)))
	}
	if len(unjustified) > 0 {
		problems = append(problems, fmt.Sprintf("%s without justification: %s", plural(len(unjustified), "acknowledged finding"), listNames(unjustified, 5)))
	}
	if len(unreachable) > 0 {
		problems = append(problems, fmt.Sprintf("report URL unreachable: %s", listNames(unreachable, 3)))
	}
	if len(problems) > 0 {
		return failf("%s", strings.Join(problems, "; "))
	}
	return passf("%s from %s; no open critical, high or medium findings", plural(len(in.Files), "report"), strings.Join(names, ", "))
}

// fullSHA reports whether s is a whole git commit id: 40 (SHA-1) or 64 (SHA-256) hex digits.
func fullSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
