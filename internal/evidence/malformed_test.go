package evidence

import (
	"strings"
	"testing"
)

// parsers by check type, for tables that feed each one bad input.
var parsers = map[string]func([]byte) error{
	"junit":       func(b []byte) error { _, err := ParseJUnit(b); return err },
	"coverage":    func(b []byte) error { _, err := ParseCoverage(b, "auto"); return err },
	"gocover":     func(b []byte) error { _, err := ParseCoverage(b, FormatGoCover); return err },
	"lcov":        func(b []byte) error { _, err := ParseCoverage(b, FormatLCOV); return err },
	"cobertura":   func(b []byte) error { _, err := ParseCoverage(b, FormatCobertura); return err },
	"sarif":       func(b []byte) error { _, err := ParseSARIF(b); return err },
	"govulncheck": func(b []byte) error { _, err := ParseGovulncheck(b); return err },
	"audit":       func(b []byte) error { _, err := ParseAudit(b); return err },
	"k6":          func(b []byte) error { _, err := ParseK6Summary(b); return err },
	"buildmatrix": func(b []byte) error { _, err := ParseBuildMatrix(b); return err },
}

const goodAudit = `firm: Acme
date: 2026-01-02
reportURL: https://acme.example/report
findings:
  - id: A-1
    severity: high
    status: fixed
`

func TestMalformed(t *testing.T) {
	tests := []struct {
		parser string
		name   string
		input  string
		want   string // substring of the error, with the position where the format has one
	}{
		// junit
		{"junit", "unclosed element", "<testsuites>\n<testsuite name=\"a\">\n<testcase name=\"x\">\n", "line 4: invalid XML: the document ends before its elements are closed"},
		{"junit", "mismatched tag", "<testsuites>\n  <testsuite>\n  </testcases>\n", "line 3: invalid XML: an element is closed by the end tag of another"},
		{"junit", "wrong root", "<?xml version=\"1.0\"?>\n<coverage line-rate=\"1\"/>", "line 2, column 26: root element is not <testsuites> or <testsuite>"},
		{"junit", "bad count", "<testsuites>\n<testsuite tests=\"many\"/></testsuites>", "line 2: attribute tests of a <testsuite> is not a whole number"},
		{"junit", "negative count", "<testsuite failures=\"-1\"/>", "line 1: attribute failures of a <testsuite> is not a whole number"},
		{"junit", "two roots", "<testsuite/>\n<testsuite/>", "line 2, column 13: second root element"},
		{"junit", "text at top", "<testsuite/>\ntrailing", "text after the root element"},
		{"junit", "not XML", "PASS ok example.com/x", "text before the root element: not a JUnit XML report"},
		{"junit", "deep nesting", strings.Repeat("<testsuite>", 100), "nested deeper than 64"},
		// coverage, auto-detected
		{"coverage", "unknown format", "hello world\n", "line 1: cannot tell the coverage format"},
		{"coverage", "empty", "", "cannot tell the coverage format"},
		// go cover
		{"gocover", "no mode", "a.go:1.1,2.2 1 1\n", "line 1: Go cover profile must start with a \"mode:\" line"},
		{"gocover", "bad mode", "mode: sometimes\n", "line 1: mode is not set, count or atomic"},
		{"gocover", "mode change", "mode: set\na.go:1.1,2.2 1 1\nmode: count\n", "line 3: mode count differs from the earlier mode set"},
		{"gocover", "short line", "mode: set\na.go:1.1,2.2 1\n", "line 2: want \"file:start,end statements count\""},
		{"gocover", "bad count", "mode: set\na.go:1.1,2.2 1 x\n", "line 2: execution count is not a whole number"},
		{"gocover", "bad statements", "mode: set\na.go:1.1,2.2 -1 1\n", "line 2: statement count is not a whole number"},
		{"gocover", "bad range", "mode: set\na.go:1.1-2.2 1 1\n", "line 2: block range has no comma"},
		{"gocover", "no file", "mode: set\n1.1,2.2 1 1\n", "line 2: block has no file name"},
		// lcov
		{"lcov", "no records", "TN:\n", "no SF: records"},
		{"lcov", "bad DA", "SF:a.js\nDA:x,1\nend_of_record\n", "line 2: DA: line and hits must be whole numbers"},
		{"lcov", "short DA", "SF:a.js\nDA:3\nend_of_record\n", "line 2: DA: want line,hits"},
		{"lcov", "LH over LF", "SF:a.js\nLF:3\nLH:4\nend_of_record\n", "line 3: LH (lines hit) is more than LF (lines found) in the record that starts at line 1"},
		{"lcov", "bad LF", "SF:a.js\nLF:lots\nend_of_record\n", "line 2: LF is not a whole number"},
		{"lcov", "DA before SF", "TN:\nDA:1,1\n", "line 2: DA: before any SF: line"},
		{"lcov", "unterminated", "SF:a.js\nDA:1,1\n", "line 1: the record that starts here has no end_of_record"},
		{"lcov", "stray end", "end_of_record\n", "line 1: end_of_record without SF:"},
		{"lcov", "no colon", "SF:a.js\ngarbage\n", "line 2: want KEY:VALUE"},
		{"lcov", "empty SF", "SF:\n", "line 1: SF: has no file name"},
		// cobertura
		{"cobertura", "wrong root", "<report/>", "line 1, column 10: root element is not Cobertura's <coverage>"},
		{"cobertura", "no numbers", "<coverage/>", "neither lines-valid/lines-covered nor line-rate"},
		{"cobertura", "bad rate", "<coverage line-rate=\"1.5\"/>", "line 1: <coverage> line-rate: want a number from 0 to 1"},
		{"cobertura", "covered over valid", "<coverage lines-valid=\"3\" lines-covered=\"4\"/>", "want whole numbers with covered ≤ valid"},
		{"cobertura", "broken XML", "<coverage line-rate=\"1\">\n<packages>\n</coverage>", "line 3: invalid XML"},
		// sarif
		{"sarif", "not JSON", "{\n  \"version\": \"2.1.0\",\n  \"runs\": [,]\n}", "line 3, column 12: invalid JSON"},
		{"sarif", "truncated", "{\"version\": \"2.1.0\", \"runs\": [", "JSON ends early"},
		{"sarif", "old version", "{\"version\": \"1.0.0\", \"runs\": []}", "line 1, column 1: SARIF version is not 2.1.0"},
		{"sarif", "no version", "{\"runs\": []}", "no \"version\""},
		{"sarif", "no runs", "{\"version\": \"2.1.0\"}", "no \"runs\" array"},
		{"sarif", "wrong type", "{\"version\": \"2.1.0\",\n \"runs\": {}}", "line 2, column 11: field runs: JSON object where an array was expected"},
		{"sarif", "bad level", `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"level":"fatal"}]}]}`, "runs[0].results[0]: level is not error, warning, note or none"},
		{"sarif", "bad severity", `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"R","properties":{"security-severity":"severe"}}]}},"results":[{"ruleId":"R"}]}]}`, "runs[0].results[0]: security-severity is neither a number from 0 to 10 nor critical, high, medium, low or none"},
		{"sarif", "no tool name", `{"version":"2.1.0","runs":[{"results":[]}]}`, "runs[0].tool.driver.name is missing"},
		{"sarif", "trailing data", "{\"version\": \"2.1.0\", \"runs\": []}\n{}", "line 2, column 1: unexpected data after the JSON document"},
		// govulncheck
		{"govulncheck", "empty", "", "no config message"},
		{"govulncheck", "text output", "=== Symbol Results ===\n", "line 1, column 1: invalid JSON"},
		{"govulncheck", "finding first", "{\"finding\": {\"osv\": \"GO-1\", \"trace\": [{\"module\": \"m\"}]}}", "line 1, column 1: finding before the config message"},
		{"govulncheck", "no trace", "{\"config\": {}}\n{\"finding\": {\"osv\": \"GO-1\"}}", "line 2, column 1: finding has no trace with a module"},
		{"govulncheck", "no id", "{\"config\": {}}\n\n{\"finding\": {\"trace\": []}}", "line 3, column 1: finding has no osv id"},
		{"govulncheck", "broken object", "{\"config\": {}}\n{\"progress\": ", "JSON ends early"},
		// audit
		{"audit", "empty", "", "empty audit report"},
		{"audit", "not a mapping", "- a\n- b\n", "line 1, column 1: audit report must be a mapping"},
		{"audit", "bad YAML", "firm: [\n", "invalid YAML"},
		{"audit", "missing field", "firm: Acme\ndate: 2026-01-02\nfindings: []\n", "field reportURL is missing"},
		{"audit", "unknown field", goodAudit + "auditor: Bob\n", "line 8, column 1: unknown field (want firm, date, reportURL, findings, commit)"},
		{"audit", "bad date", strings.Replace(goodAudit, "2026-01-02", "Jan 2", 1), "line 2, column 7: field date is not a date YYYY-MM-DD"},
		{"audit", "bad URL", strings.Replace(goodAudit, "https://acme.example/report", "acme.example/report", 1), "line 3, column 12: field reportURL"},
		{"audit", "bad severity", strings.Replace(goodAudit, "severity: high", "severity: severe", 1), "line 6, column 15: field findings[0].severity is not one of critical, high, medium, low, info"},
		{"audit", "bad status", strings.Replace(goodAudit, "status: fixed", "status: wontfix", 1), "line 7, column 13: field findings[0].status"},
		{"audit", "missing status", strings.Replace(goodAudit, "    status: fixed\n", "", 1), "line 5, column 5: findings[0]: field status is missing"},
		{"audit", "duplicate id", goodAudit + "  - id: A-1\n    severity: low\n    status: open\n", "line 8, column 5: findings[1]: its id is already used at line 5"},
		{"audit", "findings not a list", "firm: A\ndate: 2026-01-02\nreportURL: https://a.example\nfindings: none\n", "line 4, column 11: field findings must be a list"},
		{"audit", "duplicate key", goodAudit + "firm: Other\n", "line 8, column 1: field firm given twice"},
		{"audit", "two documents", goodAudit + "---\nfirm: B\n", "more than one YAML document"},
		{"audit", "empty firm", strings.Replace(goodAudit, "firm: Acme", "firm: \"\"", 1), "line 1, column 7: field firm is empty"},
		// k6
		{"k6", "no metrics", "{\"root_group\": {}}", "no \"metrics\" object"},
		{"k6", "bad stat", "{\"metrics\": {\"http_req_duration\": {\"p(95)\": \"fast\"}}}", "line 1, column 45: a metric's stat: want a number"},
		{"k6", "bad thresholds", "{\"metrics\": {\"http_req_duration\": {\"thresholds\": {\"p(95)<1\": \"ok\"}}}}", "line 1, column 50: a metric's thresholds: want an object of true/false"},
		{"k6", "broken", "{\"metrics\": {\n\"x\": }", "line 2, column 6: invalid JSON"},
		// buildmatrix
		{"buildmatrix", "object", "{\"linux/amd64\": \"success\"}", "JSON object where"},
		{"buildmatrix", "missing status", "[{\"platform\": \"linux/amd64\"}]", "entry [0]: platform and status are required"},
		{"buildmatrix", "null", "null", "want a JSON list"},
		{"buildmatrix", "bad junit", "<testsuites><testsuite tests=\"x\"/></testsuites>", "attribute tests of a <testsuite> is not a whole number"},
	}
	for _, tc := range tests {
		t.Run(tc.parser+"/"+tc.name, func(t *testing.T) {
			err := parsers[tc.parser]([]byte(tc.input))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}
