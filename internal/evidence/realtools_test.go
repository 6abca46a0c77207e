package evidence

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// canary is written into evidence where a parser might quote it back; no Error detail may
// contain it, nor the one-character quote encoding/json makes of its first byte.
const canary = "QZXCANARY"

func noEcho(t *testing.T, what, detail string) {
	t.Helper()
	for _, bad := range []string{canary, "ZXCAN", "'Q'", "evidence."} {
		if strings.Contains(detail, bad) {
			t.Errorf("%s: detail %q repeats bytes of the file (or names a Go type): %q", what, detail, bad)
		}
	}
}

// TestErrorsEchoNoBytes puts the canary where each parser used to quote the file back
// (a value, a name, a key, an element) and checks the error says where, not what.
func TestErrorsEchoNoBytes(t *testing.T) {
	c := canary
	cases := []struct{ typ, data string }{
		{"junit", "<" + c + "/>"},
		{"junit", "<testsuite tests=\"" + c + "\"/>"},
		{"junit", "<testsuites><testsuite></" + c + "></testsuites>"},
		{"junit", "<testsuite name=\"&" + c + ";\"/>"},
		{"junit", "<!DOCTYPE t [<!ENTITY " + c + " SYSTEM \"file:///etc/passwd\">]><testsuite name=\"&" + c + ";\"/>"},
		{"junit", "<?xml version=\"1.0\" encoding=\"" + c + "\"?><testsuite/>"},
		{"junit", "<?xml version=\"" + c + "\"?><testsuite/>"},
		{"junit", "<testsuite><" + c + "\x01/></testsuite>"},
		{"junit", "<testsuite></testsuite " + c + ">"},
		{"coverage", "mode: " + c + "\n"},
		{"coverage", "mode: set\n" + c + ":1.1,2.2 1 1\n" + c + " 1\n"},
		{"coverage", "mode: set\na.go:" + c + " 1 1\n"},
		{"coverage", "mode: set\na.go:1.1,2.2 " + c + " 1\n"},
		{"coverage", "SF:" + c + "\nDA:" + c + ",1\nend_of_record\n"},
		{"coverage", "SF:" + c + "\nLF:" + c + "\nend_of_record\n"},
		{"coverage", "SF:" + c + "\nLF:1\nLH:2\nend_of_record\n"},
		{"coverage", "SF:" + c + "\nDA:1,1\n"},
		{"coverage", "TN:\n" + c + "\n"},
		{"coverage", "<coverage line-rate=\"" + c + "\"/>"},
		{"coverage", "<coverage lines-valid=\"" + c + "\" lines-covered=\"1\"/>"},
		{"coverage", "<" + c + "/>"},
		{"sarif", c},
		{"sarif", `{"version":"` + c + `","runs":[]}`},
		{"sarif", `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"level":"` + c + `"}]}]}`},
		{"sarif", `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"properties":{"security-severity":"` + c + `"}}]}]}`},
		{"sarif", `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"properties":{"security-severity":12345987}}]}]}`},
		{"sarif", `{"version":"2.1.0","runs":12345987}`},
		{"govulncheck", `{"config":{}}{"finding":{"osv":"` + c + `"}}`},
		{"govulncheck", `[{"config":{}}, "` + c + `"]`},
		{"govulncheck", `{"config":{"scan_level":"` + c + `"}}`},
		{"govulncheck", `{"config":{"scan_mode":"` + c + `"}}`},
		{"audit", "firm: A\ndate: " + c + "\nreportURL: https://a.example\nfindings: []\n"},
		{"audit", "firm: A\ndate: 2026-01-02\nreportURL: " + c + "\nfindings: []\n"},
		{"audit", c + ": 1\n"},
		{"audit", "firm: *" + c + "\n"},
		{"audit", "firm: A\ndate: 2026-01-02\nreportURL: https://a.example\nfindings:\n  - id: A\n    severity: " + c + "\n    status: open\n"},
		{"audit", "firm: A\ndate: 2026-01-02\nreportURL: https://a.example\nfindings:\n  - id: " + c + "\n    severity: low\n    status: open\n  - id: " + c + "\n    severity: low\n    status: open\n"},
		{"k6", `{"metrics":{"` + c + `":{"p(95)":"` + c + `"}}}`},
		{"k6", `{"metrics":{"` + c + `":{"thresholds":{"` + c + `":"` + c + `"}}}}`},
		{"k6", `{"metrics":{"` + c + `":` + c + `}}`},
		{"buildmatrix", `[{"platform":"` + c + `"}]`},
		{"buildmatrix", `{"` + c + `":12345987}`},
	}
	for i, tc := range cases {
		params := map[string]map[string]string{"buildmatrix": {"platforms": "linux/amd64"}}[tc.typ]
		res := Evaluate(Input{Type: tc.typ, Params: params, Files: []File{{Name: "f", Data: []byte(tc.data)}}})
		if res.Outcome != Error {
			t.Errorf("case %d (%s): got %s %q, want an error", i, tc.typ, res.Outcome, res.Detail)
		}
		noEcho(t, tc.typ, res.Detail)
		if strings.Contains(res.Detail, "12345987") || strings.Contains(res.Detail, "passwd") {
			t.Errorf("case %d (%s): detail %q repeats the file", i, tc.typ, res.Detail)
		}
	}
}

// TestErrorsEchoNoBytesFromFixtures breaks every real-tool fixture by inserting the canary
// at many places: whatever error that makes must not contain it.
func TestErrorsEchoNoBytesFromFixtures(t *testing.T) {
	types := map[string]string{"junit": "junit", "coverage": "coverage", "sarif": "sarif", "govulncheck": "govulncheck",
		"audit": "audit", "k6": "k6", "buildmatrix": "buildmatrix"}
	params := map[string]map[string]string{"buildmatrix": {"platforms": "linux/amd64"}, "k6": {"maxP95Ms": "100"}}
	for dir, typ := range types {
		paths, _ := filepath.Glob(filepath.Join("testdata", dir, "*.*"))
		for _, p := range paths {
			if strings.HasSuffix(p, ".md") {
				continue
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, insert := range []string{canary, "\"" + canary, "<" + canary, "'" + canary + "\x00"} {
				step := max(len(data)/25, 1)
				for i := 0; i < len(data); i += step {
					mut := append(append(append([]byte(nil), data[:i]...), insert...), data[i:]...)
					res := Evaluate(Input{Type: typ, Params: params[typ], Files: []File{{Name: "f", Data: mut}}})
					if res.Outcome == Error {
						noEcho(t, p, res.Detail)
					}
				}
			}
		}
	}
}

// TestByteOrderMarkEveryFormat: the one encoding rule holds for every check type.
func TestByteOrderMarkEveryFormat(t *testing.T) {
	good := map[string]string{
		"junit":       `<testsuite><testcase name="a"/></testsuite>`,
		"coverage":    "SF:a.js\nDA:1,1\nend_of_record\n",
		"sarif":       `{"version":"2.1.0","runs":[]}`,
		"govulncheck": `{"config":{"scan_level":"symbol"}}`,
		"audit":       goodAudit,
		"k6":          `{"metrics":{"http_req_duration":{"p(95)":1},"http_req_failed":{"value":0},"http_reqs":{"count":6000,"rate":100}}}`,
		"buildmatrix": `[{"platform":"linux/amd64","status":"success"}]`,
		"document":    "# Runbook for 1.0.0\n",
	}
	params := map[string]map[string]string{"buildmatrix": {"platforms": "linux/amd64"}, "audit": {"minReports": "1"}}
	for _, typ := range Types() {
		data, ok := good[typ]
		if !ok {
			t.Fatalf("no case for %s", typ)
		}
		for _, bom := range []string{"", "\xef\xbb\xbf"} {
			res := Evaluate(Input{Type: typ, Params: params[typ], Version: "1.0.0", Files: []File{{Name: "f", Data: []byte(bom + data)}}})
			if res.Outcome != Pass {
				t.Errorf("%s with BOM %q: got %s %q", typ, bom, res.Outcome, res.Detail)
			}
		}
		for _, bom := range []string{"\xff\xfe", "\xfe\xff"} {
			res := Evaluate(Input{Type: typ, Params: params[typ], Version: "1.0.0", Files: []File{{Name: "f", Data: []byte(bom + data)}}})
			if res.Outcome != Error || !strings.Contains(res.Detail, "UTF-16") {
				t.Errorf("%s as UTF-16: got %s %q", typ, res.Outcome, res.Detail)
			}
		}
	}
	// A document that is only a byte-order mark is empty.
	res := Evaluate(Input{Type: "document", Version: "1.0.0", Files: []File{{Name: "f", Data: []byte("\xef\xbb\xbf\n")}}})
	if res.Outcome != Fail || !strings.Contains(res.Detail, "f is empty") {
		t.Errorf("BOM-only document: got %s %q", res.Outcome, res.Detail)
	}
}

func TestXMLEncodings(t *testing.T) {
	latin := []byte("<?xml version=\"1.0\" encoding=\"latin1\"?><testsuite><testcase name=\"Gr\xf6\xdfe\"><failure/></testcase></testsuite>")
	r, err := ParseJUnit(latin)
	if err != nil || len(r.Failed) != 1 || r.Failed[0] != "Größe" {
		t.Fatalf("latin1: %+v, %v", r, err)
	}
	ascii := []byte("<?xml version=\"1.0\" encoding=\"US-ASCII\"?><testsuite><testcase name=\"a\xe9\"><failure/></testcase></testsuite>")
	if r, err := ParseJUnit(ascii); err != nil || r.Failed[0] != "a\ufffd" {
		t.Fatalf("US-ASCII: %+v, %v", r, err)
	}
	cp := []byte("<?xml version='1.0' encoding='Windows-1252'?><testsuite><testcase name=\"\x80\x81\x9f\"><failure/></testcase></testsuite>")
	if r, err := ParseJUnit(cp); err != nil || r.Failed[0] != "€\ufffdŸ" {
		t.Fatalf("windows-1252: %+v, %v", r, err)
	}
	_, err = ParseJUnit([]byte("<?xml version=\"1.0\" encoding=\"EBCDIC-US\"?><testsuite/>"))
	if err == nil || !strings.Contains(err.Error(), "names an encoding other than UTF-8, ISO-8859-1, windows-1252 or US-ASCII") {
		t.Fatalf("unsupported encoding: %v", err)
	}
	_, err = ParseCoverage([]byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><coverage lines-valid=\"2\" lines-covered=\"1\"><!-- \xe9 --></coverage>"), "auto")
	if err != nil {
		t.Fatalf("cobertura in ISO-8859-1: %v", err)
	}
}

func TestJUnitCountsTestCases(t *testing.T) {
	runEvalCases(t, "junit", []evalCase{
		{name: "tests attribute adds no test", want: Fail, detail: "2 tests, 1 failed, 0 skipped (50.0 % pass < 100 %)",
			files: []string{`<testsuites tests="500"><testsuite tests="500"><testcase name="A"/><testcase name="B"><failure/></testcase></testsuite></testsuites>`}},
		{name: "a suite without test cases claiming tests and a failure", want: Fail, detail: "1 test, 1 failed, 0 skipped (0.0 % pass < 100 %): crashed (counted by the suite, no test case)",
			files: []string{`<testsuites><testsuite name="crashed" tests="40" failures="1"/></testsuites>`}},
		{name: "a suite without test cases and no failure adds nothing", want: Fail, detail: "1 test, 1 failed",
			files: []string{`<testsuites><testsuite name="empty" tests="40"/><testsuite><testcase name="A"><error/></testcase></testsuite></testsuites>`}},
		{name: "attribute failures beside test cases are summaries", want: Pass, detail: "1 test, 0 failed, 0 skipped, 1 flaky",
			files: []string{`<testsuite tests="3" failures="2"><testcase name="A"><flakyFailure/><flakyFailure/></testcase></testsuite>`}},
		{name: "status disabled", want: Fail, detail: "2 tests, 0 failed, 2 skipped (no tests executed)",
			files: []string{`<testsuite><testcase name="A" status="disabled"/><testcase name="B" status="NotRun"/></testsuite>`}},
		{name: "result suppressed", want: Pass, detail: "2 tests, 0 failed, 1 skipped",
			files: []string{`<testsuite><testcase name="A" status="notrun" result="suppressed"/><testcase name="B" status="run" result="completed"/></testsuite>`}},
		{name: "a failure beats a skip status", want: Fail, detail: "1 test, 1 failed",
			files: []string{`<testsuite><testcase name="A" status="disabled"><failure/></testcase></testsuite>`}},
		{name: "rerun failures count once", want: Fail, detail: "1 test, 1 failed, 0 skipped (0.0 % pass < 100 %): A",
			files: []string{`<testsuite><testcase name="A"><failure/><rerunFailure/><rerunError/></testcase></testsuite>`}},
		{name: "flaky in a browser's suites", params: map[string]string{"reports": "chromium", "flaky": "fail"}, names: []string{"junit-chromium.xml"}, want: Fail,
			detail: "browser chromium: 1 test, 1 failed, 0 skipped, 1 flaky", files: []string{`<testsuite hostname="chromium"><testcase name="A"><flakyError/></testcase></testsuite>`}},
	})
	if err := ValidateParams("junit", map[string]string{"flaky": "ignore"}); err == nil || !strings.Contains(err.Error(), `"ignore" is not one of pass, fail`) {
		t.Fatalf("flaky param: %v", err)
	}
}

func TestGovulncheckScanDepth(t *testing.T) {
	cfg := func(level, mode string) string {
		return `{"config":{"protocol_version":"v1.0.0","scanner_name":"govulncheck","scan_level":"` + level + `","scan_mode":"` + mode + `"}}` + "\n"
	}
	modFinding := `{"finding":{"osv":"GO-1","fixed_version":"v1.1.0","trace":[{"module":"m","version":"v1.0.0"}]}}`
	pkgFinding := `{"finding":{"osv":"GO-2","trace":[{"module":"m","version":"v1.0.0","package":"m/p"}]}}`
	runEvalCases(t, "govulncheck", []evalCase{
		{name: "module finding under a module scan fails", want: Fail, detail: "1 vulnerability that a -scan module scan cannot tell reachable or not: GO-1 (m@v1.0.0, fixed in v1.1.0)",
			files: []string{cfg("module", "source") + modFinding}},
		{name: "module finding under a package scan is required only", want: Pass, detail: "no vulnerable package imported (-scan package); 1 in required modules only: GO-1",
			files: []string{cfg("package", "source") + modFinding}},
		{name: "package finding under a package scan fails", want: Fail, detail: "cannot tell reachable or not: GO-2",
			files: []string{cfg("package", "source") + pkgFinding}},
		{name: "package finding under a symbol scan is imported only", want: Pass, detail: "1 imported but not called: GO-2",
			files: []string{cfg("symbol", "source") + pkgFinding}},
		{name: "no scan level is the symbol level of older govulncheck", want: Pass, detail: "no reachable vulnerabilities",
			files: []string{`{"config":{"protocol_version":"v0.1.0"}}` + modFinding}},
		{name: "a clean query says nothing about the code", want: Error, detail: "f0: a govulncheck -mode query run looks up named module versions, not the release's code",
			files: []string{cfg("symbol", "query")}},
		{name: "a coarse scan does not hide a reachable one", want: Fail, detail: "1 reachable vulnerability: GO-3",
			files: []string{cfg("module", "source") + modFinding, cfg("symbol", "source") + `{"finding":{"osv":"GO-3","trace":[{"module":"m","package":"m/p","function":"F"}]}}`}},
		{name: "unknown scan level", want: Error, detail: "f0: line 1, column 1: config scan_level is not symbol, package or module",
			files: []string{cfg("everything", "source")}},
		{name: "two configs", want: Error, detail: "line 2, column 1: second config message",
			files: []string{cfg("symbol", "source") + cfg("module", "source")}},
		{name: "jq -s array", want: Fail, detail: "1 vulnerability that a -scan module",
			files: []string{"[" + strings.TrimSpace(cfg("module", "source")) + ",\n" + modFinding + "]"}},
		{name: "empty array", want: Error, detail: "no config message", files: []string{"[]"}},
		{name: "unclosed array", want: Error, detail: "JSON ends early", files: []string{"[" + strings.TrimSpace(cfg("symbol", "source"))}},
		{name: "array of strings", want: Error, detail: "f0: line 1, column 2: a message is not a JSON object", files: []string{`["config"]`}},
		{name: "data after the array", want: Error, detail: "unexpected data after the JSON document", files: []string{"[" + strings.TrimSpace(cfg("symbol", "source")) + "] {}"}},
	})
}

func TestSARIFBaselineAndSeverityWords(t *testing.T) {
	log := func(results string) string {
		return `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}},"results":[` + results + `]}]}`
	}
	noLimits := map[string]string{"maxWarnings": "unlimited", "maxErrors": "unlimited"}
	runEvalCases(t, "sarif", []evalCase{
		{name: "absent results are fixed", want: Pass, detail: "0 errors, 0 warnings, 0 notes; 0 critical, 0 high; 1 fixed since the baseline",
			files: []string{log(`{"ruleId":"R","level":"error","baselineState":"absent"}`)}},
		{name: "new, unchanged and updated results count", want: Fail, detail: "3 errors > 0",
			files: []string{log(`{"ruleId":"R","level":"error","baselineState":"new"},{"ruleId":"R","level":"error","baselineState":"unchanged"},{"ruleId":"R","level":"error","baselineState":"updated"}`)}},
		{name: "word severities", params: noLimits, want: Fail, detail: "1 critical > 0: C; 1 high > 0: H",
			files: []string{log(`{"ruleId":"C","properties":{"security-severity":"CRITICAL"}},{"ruleId":"H","properties":{"security-severity":"high"}},{"ruleId":"M","properties":{"security-severity":"Medium"}},{"ruleId":"L","properties":{"security-severity":"LOW"}}`)}},
		{name: "an unreadable severity never passes", params: map[string]string{"maxWarnings": "unlimited", "maxCritical": "unlimited", "maxHigh": "unlimited"}, want: Error,
			detail: "f0: runs[0].results[0]: security-severity is neither a number from 0 to 10 nor critical, high, medium, low or none",
			files:  []string{log(`{"ruleId":"X","properties":{"security-severity":"SEVERE"}}`)}},
		{name: "NaN is unreadable", params: noLimits, want: Error, detail: "security-severity is neither",
			files: []string{log(`{"ruleId":"X","properties":{"security-severity":"NaN"}}`)}},
		{name: "over 10 is unreadable", params: noLimits, want: Error, detail: "security-severity is neither",
			files: []string{log(`{"ruleId":"X","properties":{"security-severity":11}}`)}},
	})
}

func TestK6HandleSummaryAndErrors(t *testing.T) {
	handle := `{"root_group":{"name":"","path":"","id":"d41d8cd98f00b204e9800998ecf8427e","groups":[],"checks":[]},"options":{"summaryTrendStats":["avg","min","med","max","p(90)","p(95)","p(99)"],"summaryTimeUnit":"","noColor":false},"state":{"isStdOutTTY":false,"isStdErrTTY":false,"testRunDurationMs":2012.5},` +
		`"metrics":{"http_req_duration":{"type":"trend","contains":"time","values":{"avg":3.1,"min":1,"med":2,"max":40,"p(90)":5,"p(95)":7.25,"p(99)":30.5},"thresholds":{"p(95)<500":{"ok":true}}},` +
		`"http_req_failed":{"type":"rate","contains":"default","values":{"rate":0.02,"passes":2,"fails":98},"thresholds":{"rate<0.01":{"ok":false}}}}}`
	runEvalCases(t, "k6", []evalCase{
		{name: "handleSummary JSON", params: map[string]string{"maxP95Ms": "300", "maxP99Ms": "800", "maxFailRate": "0.05"}, want: Fail,
			detail: "k6 thresholds failed: http_req_failed rate<0.01", files: []string{handle}},
		{name: "handleSummary rate is the fail rate", params: map[string]string{"maxP99Ms": "20"}, want: Fail,
			detail: "http_req_duration p(99) 30.5 ms > 20 ms; http_req_failed 2.00 % > 1 %", files: []string{handle}},
		{name: "handleSummary green", params: map[string]string{"maxP95Ms": "300", "maxP99Ms": "800", "maxFailRate": "0.05"}, want: Pass,
			detail: "p(95) 7.2 ms, p(99) 30.5 ms, failed 2.00 %", files: []string{strings.Replace(handle, `{"ok":false}`, `{"ok":true}`, 1)}},
	})
	// The default policy's maxP99Ms with k6's default export: the error says how to get p(99).
	res := Evaluate(Input{Type: "k6", Params: map[string]string{"maxP95Ms": "300", "maxP99Ms": "800"}, Files: []File{readFixture(t, "k6/default-stats.json")}})
	if res.Outcome != Error || !strings.Contains(res.Detail, `run k6 with --summary-trend-stats "avg,min,med,max,p(90),p(95),p(99)"`) {
		t.Fatalf("default export under maxP99Ms: %s %q", res.Outcome, res.Detail)
	}
	if doc := ParamDocs("k6")["maxP99Ms"]; !strings.Contains(doc, "--summary-trend-stats") {
		t.Fatalf("maxP99Ms doc %q does not say how to export p(99)", doc)
	}
	// Many bad metrics: the error is the first in the file, every time.
	var b bytes.Buffer
	b.WriteString(`{"metrics":{`)
	for i := range 30 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"m` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":{"avg":"x"}`)
	}
	b.WriteString(`}}`)
	first := ""
	for i := range 50 {
		_, err := ParseK6Summary(b.Bytes())
		if err == nil {
			t.Fatal("no error")
		}
		if i == 0 {
			first = err.Error()
			if first != "line 1, column 26: a metric's stat: want a number" {
				t.Fatalf("first error %q", first)
			}
		} else if err.Error() != first {
			t.Fatalf("error changed from %q to %q", first, err)
		}
	}
}
