package evidence

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// evalCase is one Evaluate call on inline evidence with the expected verdict.
type evalCase struct {
	name    string
	params  map[string]string
	files   []string // file contents; named f0, f1, … unless names is set
	names   []string
	version string
	want    Outcome
	detail  string
}

func runEvalCases(t *testing.T, typ string, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Type: typ, Params: junitCounting(typ, tc.params), Version: tc.version}
			for i, data := range tc.files {
				name := "f" + string(rune('0'+i))
				if i < len(tc.names) {
					name = tc.names[i]
				}
				in.Files = append(in.Files, File{Name: name, Data: []byte(data)})
			}
			got := Evaluate(in)
			if got.Outcome != tc.want || !strings.Contains(got.Detail, tc.detail) {
				t.Fatalf("got %s %q, want %s containing %q", got.Outcome, got.Detail, tc.want, tc.detail)
			}
		})
	}
}

func TestJUnitSemantics(t *testing.T) {
	const green = `<testsuite name="s" tests="2"><testcase name="A"/><testcase name="B"/></testsuite>`
	playwrightChromium := string(readFixture(t, "junit/playwright-chromium-only.xml").Data)
	runEvalCases(t, "junit", []evalCase{
		{name: "suite attributes claim a failure no test case shows", want: Fail, detail: "1 test, 1 failed",
			files: []string{`<testsuites><testsuite name="example.com/broken" tests="0" failures="1" errors="0"></testsuite></testsuites>`}},
		{name: "nested suites add up", want: Fail, detail: "3 tests, 1 failed, 1 skipped (50.0 % pass < 100 %): C",
			files: []string{`<testsuite name="outer"><testsuite name="inner"><testcase name="A"/><testcase name="B"><skipped/></testcase></testsuite><testcase name="C"><error message="x"/></testcase></testsuite>`}},
		{name: "nothing ran", want: Fail, detail: "0 tests, 0 failed, 0 skipped (no tests executed)",
			files: []string{`<testsuites></testsuites>`}},
		{name: "all skipped", want: Fail, detail: "no tests executed",
			files: []string{`<testsuite><testcase name="A"><skipped/></testcase></testsuite>`}},
		{name: "failure names are capped", want: Fail, detail: "F1, F2, F3, F4, F5 and 1 more",
			files: []string{`<testsuite>` + strings.Repeat(`<testcase name="ok"/>`, 4) +
				`<testcase name="F1"><failure/></testcase><testcase name="F2"><failure/></testcase><testcase name="F3"><failure/></testcase>` +
				`<testcase name="F4"><failure/></testcase><testcase name="F5"><failure/></testcase><testcase name="F6"><failure/></testcase></testsuite>`}},
		{name: "browsers come from the suites' hostnames", params: map[string]string{"reports": "Chromium,firefox,webkit"}, want: Fail,
			detail: "browser webkit: 2 tests, 1 failed", names: []string{"a.xml", "b.xml", "c.xml"},
			files: []string{`<testsuites><testsuite name="cart.spec.ts" hostname="chromium"><testcase name="A"/></testsuite></testsuites>`,
				`<testsuites><testsuite name="cart.spec.ts" hostname=" Firefox "><testcase name="A"/></testsuite></testsuites>`,
				`<testsuites><testsuite name="cart.spec.ts" hostname="webkit"><testcase name="A"/><testcase name="adds item"><failure message="timeout"/></testcase></testsuite></testsuites>`}},
		{name: "a file's name never names a browser", params: map[string]string{"reports": "firefox"}, want: Fail,
			detail: "browser firefox missing", names: []string{"firefox/junit-firefox.xml"}, files: []string{green}},
		// issue 12: three chromium reports renamed firefox and webkit passed cross-browser
		{name: "chromium reports renamed as other browsers", params: map[string]string{"reports": "chromium,firefox,webkit"}, want: Fail,
			detail: "browser firefox missing", names: []string{"e2e-chromium.xml", "e2e-firefox.xml", "e2e-webkit.xml"},
			files: []string{playwrightChromium, playwrightChromium, playwrightChromium}},
		{name: "a minimum pass rate below 100", params: map[string]string{"minPassRate": "50"}, want: Pass, detail: "(50.0 % pass)",
			files: []string{`<testsuite><testcase name="A"/><testcase name="B"><failure/></testcase></testsuite>`}},
		{name: "one bad file among good ones names that file", want: Error, detail: "f1: line 1",
			files: []string{green, `<testsuite><testcase></testsuite>`}},
	})
}

func TestCoverageSemantics(t *testing.T) {
	runEvalCases(t, "coverage", []evalCase{
		{name: "the same block in two profiles counts once", want: Pass, detail: "(3/3 statements)",
			files: []string{"mode: set\na.go:1.1,2.2 2 0\nb.go:1.1,2.2 1 1\n", "mode: set\na.go:1.1,2.2 2 1\n"}},
		{name: "concatenated profiles repeat the mode line", want: Fail, detail: "coverage 50.0 % < 80 % (1/2 statements)",
			files: []string{"mode: count\na.go:1.1,2.2 1 5\nmode: count\nb.go:1.1,2.2 1 0\n"}},
		{name: "atomic mode", want: Pass, files: []string{"mode: atomic\na.go:1.1,2.2 4 3\n"}},
		{name: "lcov records for one file merge line by line", want: Pass, detail: "(2/2 lines)",
			files: []string{"SF:a.js\nDA:1,0\nDA:2,1\nend_of_record\nSF:a.js\nDA:1,3\nend_of_record\n"}},
		{name: "lcov record with only LF/LH", want: Fail, detail: "coverage 75.0 % < 80 % (3/4 lines)",
			files: []string{"TN:\nSF:a.js\nLF:4\nLH:3\nend_of_record\n"}},
		{name: "cobertura with only line-rate", want: Fail, detail: "coverage 79.9 % < 80 % (line-rate)",
			files: []string{`<?xml version="1.0"?><coverage line-rate="0.7999"></coverage>`}},
		{name: "cobertura line-rate files do not merge", want: Error, detail: "f1 gives only line-rate",
			files: []string{`<coverage lines-valid="2" lines-covered="2"/>`, `<coverage line-rate="1"/>`}},
		{name: "two cobertura files merge by lines", want: Fail, detail: "coverage 60.0 % < 80 % (3/5 lines)",
			files: []string{`<coverage lines-valid="4" lines-covered="3"/>`, `<coverage lines-valid="1" lines-covered="0"/>`}},
		{name: "no statements", want: Error, detail: "f0: coverage report lists no statements or lines", files: []string{"mode: set\n"}},
		{name: "min 0 passes anything measured", params: map[string]string{"min": "0"}, want: Pass, files: []string{"mode: set\na.go:1.1,2.2 1 0\n"}},
		{name: "BOM before the mode line", want: Pass, files: []string{"\ufeffmode: set\na.go:1.1,2.2 1 1\n"}},
	})
}

func TestSARIFSemantics(t *testing.T) {
	log := func(rules, extensions, results string) string {
		return `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T","rules":[` + rules + `]},"extensions":[` + extensions + `]},"results":[` + results + `]}]}`
	}
	rules := `{"id":"R0","defaultConfiguration":{"level":"error"}},{"id":"R1","properties":{"security-severity":"9.1"}},{"id":"R2","properties":{"security-severity":7.5}}`
	runEvalCases(t, "sarif", []evalCase{
		{name: "rule default level by ruleIndex", want: Fail, detail: "1 error > 0: R0 at a.go:3",
			files: []string{log(rules, "", `{"ruleIndex":0,"message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.go"},"region":{"startLine":3}}}]}`)}},
		{name: "rule default level by id", want: Fail, detail: "1 error > 0: R0",
			files: []string{log(rules, "", `{"ruleId":"R0"}`)}},
		{name: "result level wins over the rule", want: Pass, detail: "0 errors, 0 warnings, 1 note",
			files: []string{log(rules, "", `{"ruleId":"R0","level":"note"}`)}},
		{name: "kind pass is not a problem", want: Pass, detail: "0 errors, 0 warnings, 0 notes",
			files: []string{log(rules, "", `{"ruleId":"R0","kind":"pass"}`)}},
		{name: "no level anywhere is a warning", want: Fail, detail: "1 warning > 0",
			files: []string{log(`{"id":"gitleaks:aws-key"}`, "", `{"ruleId":"gitleaks:aws-key"}`)}},
		{name: "critical and high from rule properties", params: map[string]string{"maxWarnings": "unlimited"}, want: Fail,
			detail: "1 critical > 0: R1; 1 high > 0: R2",
			files:  []string{log(rules, "", `{"ruleId":"R1"},{"ruleId":"R2"}`)}},
		{name: "critical allowed", params: map[string]string{"maxWarnings": "unlimited", "maxCritical": "1", "maxHigh": "1"}, want: Pass,
			detail: "1 critical, 1 high", files: []string{log(rules, "", `{"ruleId":"R1"},{"ruleId":"R2"}`)}},
		{name: "severity on the result", params: map[string]string{"maxWarnings": "unlimited"}, want: Fail, detail: "1 critical",
			files: []string{log("", "", `{"ruleId":"X","properties":{"security-severity":"9.8"}}`)}},
		{name: "CodeQL rule in an extension", params: map[string]string{"maxWarnings": "unlimited"}, want: Fail, detail: "1 error > 0: go/sql-injection",
			files: []string{log("", `{"name":"codeql/go-queries","rules":[{"id":"other"},{"id":"go/sql-injection","defaultConfiguration":{"level":"error"},"properties":{"security-severity":"8.8"}}]}`,
				`{"ruleId":"go/sql-injection","rule":{"id":"go/sql-injection","index":1,"toolComponent":{"index":0}}}`)}},
		{name: "accepted suppression does not count", want: Pass, detail: "1 suppressed",
			files: []string{log(rules, "", `{"ruleId":"R0","suppressions":[{"kind":"inSource"}]}`)}},
		{name: "suppression under review still counts", want: Fail, detail: "1 error",
			files: []string{log(rules, "", `{"ruleId":"R0","suppressions":[{"kind":"external","status":"underReview"}]}`)}},
		{name: "counts add up over files", params: map[string]string{"maxErrors": "1"}, want: Fail, detail: "2 errors > 1",
			files: []string{log(rules, "", `{"ruleId":"R0"}`), log(rules, "", `{"ruleId":"R0"}`)}},
	})
}

func TestGovulncheckSemantics(t *testing.T) {
	const cfg = `{"config":{"protocol_version":"v1.0.0","scanner_name":"govulncheck","scan_level":"symbol"}}` + "\n"
	runEvalCases(t, "govulncheck", []evalCase{
		{name: "method on a receiver", want: Fail, detail: "GO-2024-1 (m@v1.0.0) via m/p.Server.Serve",
			files: []string{cfg + `{"finding":{"osv":"GO-2024-1","trace":[{"module":"m","version":"v1.0.0","package":"m/p","function":"Serve","receiver":"*Server"},{"module":"app","package":"app","function":"main"}]}}`}},
		{name: "deepest level per OSV", want: Fail, detail: "1 reachable vulnerability",
			files: []string{cfg + `{"finding":{"osv":"GO-1","trace":[{"module":"m","package":"m/p","function":"F"}]}}` + "\n" +
				`{"finding":{"osv":"GO-1","trace":[{"module":"m"}]}}`}},
		{name: "required module only", want: Pass, detail: "1 in required modules only: GO-3",
			files: []string{cfg + `{"finding":{"osv":"GO-3","trace":[{"module":"m","version":"v1"}]}}`}},
		{name: "stdlib finding", want: Fail, detail: "GO-2025-9 (stdlib@v1.22.0, fixed in v1.22.1) via net/http.ListenAndServe",
			files: []string{cfg + `{"finding":{"osv":"GO-2025-9","fixed_version":"v1.22.1","trace":[{"module":"stdlib","version":"v1.22.0","package":"net/http","function":"ListenAndServe"}]}}`}},
	})
}

func TestAuditSemantics(t *testing.T) {
	report := func(firm, findings string) string {
		return "firm: " + firm + "\ndate: 2026-01-02\nreportURL: https://x.example/" + firm + "\nfindings:" + findings + "\n"
	}
	f := func(id, sev, status, just string) string {
		return "\n  - id: " + id + "\n    severity: " + sev + "\n    status: " + status + "\n    justification: \"" + just + "\""
	}
	runEvalCases(t, "audit", []evalCase{
		{name: "no findings at all", want: Pass, files: []string{report("A", " []"), report("B", " []")}},
		{name: "firms compare case-insensitively", want: Fail, detail: "1 of 2 required reports", files: []string{report("Acme", " []"), report("ACME ", " []")}},
		{name: "open critical", want: Fail, detail: "1 open critical/high finding: A-1", files: []string{report("A", f("A-1", "critical", "open", "")), report("B", " []")}},
		// issue 12: a critical finding "acknowledged" passed; the seed wants it fixed
		{name: "acknowledged high fails the seed", want: Fail, detail: "1 acknowledged critical/high finding (critical and high findings must be fixed): A-1",
			files: []string{report("A", f("A-1", "high", "acknowledged", "mitigated by the timelock")), report("B", " []")}},
		{name: "acknowledged critical fails the seed", want: Fail, detail: "acknowledged critical/high finding",
			files: []string{report("A", f("A-1", "critical", "acknowledged", "risk accepted")), report("B", " []")}},
		{name: "acknowledged high needs a reason where a policy accepts it", params: map[string]string{"failAcknowledgedHigh": "false"}, want: Fail, detail: "1 acknowledged finding without justification: A-1",
			files: []string{report("A", f("A-1", "high", "acknowledged", "  ")), report("B", " []")}},
		{name: "acknowledged high with a reason where a policy accepts it", params: map[string]string{"failAcknowledgedHigh": "false"}, want: Pass, files: []string{report("A", f("A-1", "high", "acknowledged", "mitigated by the timelock")), report("B", " []")}},
		{name: "open medium", want: Fail, detail: "1 open medium finding: B-2", files: []string{report("A", " []"), report("B", f("B-2", "medium", "open", "later"))}},
		{name: "open low and info do not block", want: Pass, files: []string{report("A", f("A-1", "low", "open", "")+f("A-2", "info", "open", "")), report("B", " []")}},
		{name: "three required", params: map[string]string{"minReports": "3"}, want: Fail, detail: "2 of 3", files: []string{report("A", " []"), report("B", " []")}},
	})
}

func TestK6Semantics(t *testing.T) {
	summary := func(p95 float64, failRate float64, thresholdFailed bool) string {
		tf := "false"
		if thresholdFailed {
			tf = "true"
		}
		return `{"metrics":{"http_req_duration":{"avg":1,"p(90)":2,"p(95)":` + trimFloat(p95) + `,"thresholds":{"p(95)<500":` + tf + `}},` +
			`"http_req_failed":{"passes":0,"fails":10,"value":` + trimFloat(failRate) + `}}}`
	}
	runEvalCases(t, "k6", []evalCase{
		{name: "green", params: map[string]string{"maxP95Ms": "100"}, want: Pass, detail: "p(95) 42.0 ms, failed 0.50 %", files: []string{summary(42, 0.005, false)}},
		{name: "threshold true means failed", want: Fail, detail: "k6 thresholds failed: http_req_duration p(95)<500", files: []string{summary(42, 0, true)}},
		{name: "default fail rate 1 %", want: Fail, detail: "http_req_failed 2.00 % > 1 %", files: []string{summary(42, 0.02, false)}},
		{name: "raised fail rate", params: map[string]string{"maxFailRate": "0.05"}, want: Pass, files: []string{summary(42, 0.02, false)}},
		{name: "no HTTP metrics", want: Error, detail: "f0: no http_req_duration or http_req_failed metric", files: []string{`{"metrics":{"checks":{"value":1}}}`}},
		{name: "two files are named", params: map[string]string{"maxP95Ms": "50"}, names: []string{"load/eu.json", "load/us.json"}, want: Fail,
			detail: "us.json: http_req_duration p(95) 60.0 ms > 50 ms", files: []string{summary(42, 0, false), summary(60, 0, false)}},
	})
}

func TestBuildMatrixSemantics(t *testing.T) {
	platforms := map[string]string{"platforms": "linux/amd64"}
	runEvalCases(t, "buildmatrix", []evalCase{
		{name: "every entry for a platform must be green", params: platforms, want: Fail, detail: "not green: linux/amd64 (failure)",
			files: []string{`[{"platform":"linux/amd64","status":"success"},{"platform":"linux/amd64","status":"failure"}]`}},
		{name: "platforms across files", params: map[string]string{"platforms": "linux/amd64,darwin/arm64"}, want: Pass,
			files: []string{`[{"platform":"linux/amd64","status":"success"}]`, `<testsuite name="darwin/arm64"><testcase name="build"/></testsuite>`}},
		{name: "status is case-sensitive as CI writes it", params: platforms, want: Fail, detail: "(Success)",
			files: []string{`[{"platform":"linux/amd64","status":"Success"}]`}},
	})
}

func TestNamesVersion(t *testing.T) {
	tests := []struct {
		text, version string
		want          bool
	}{
		{"release 1.4.0 notes", "1.4.0", true},
		{"release v1.4.0", "1.4.0", true},
		{"release 1.4.0", "v1.4.0", true},
		{"Version 1.4.0.", "1.4.0", true},
		{"(1.4.0)", "1.4.0", true},
		{"1.4.0", "1.4.0", true},
		{"1.4.00", "1.4.0", false},
		{"11.4.0", "1.4.0", false},
		{"1.4.0-rc1", "1.4.0", false},
		{"1.4.0.1", "1.4.0", false},
		{"1.4.0+build5", "1.4.0", false},
		{"dev1.4.0", "1.4.0", false},
		{"vv1.4.0", "1.4.0", false},
		{"see 1.4.01 then 1.4.0", "1.4.0", true},
		{"release 2026.11.25-1", "2026.11.25-1", true},
		{"anything", "", false},
		{"anything", "v", false},
	}
	for _, tc := range tests {
		if got := NamesVersion([]byte(tc.text), tc.version); got != tc.want {
			t.Errorf("NamesVersion(%q, %q) = %v, want %v", tc.text, tc.version, got, tc.want)
		}
	}
}

func TestDocumentSemantics(t *testing.T) {
	runEvalCases(t, "document", []evalCase{
		{name: "blank file", version: "1.0.0", want: Fail, detail: "f0 is empty", files: []string{" \n\t"}},
		{name: "every file must name it", version: "1.0.0", want: Fail, detail: "f1 does not name version 1.0.0", files: []string{"# Runbook 1.0.0", "# Runbook 0.9.0"}},
		// issue 12: a document containing only "1.0.0" passed the runbook
		{name: "only the version", version: "1.0.0", want: Fail, detail: "f0 names version 1.0.0, but in no heading", files: []string{"1.0.0"}},
		{name: "version in the body only", version: "1.0.0", want: Fail, detail: "in no heading", files: []string{"# Runbook\n\nDeploy 1.0.0 with care.\n"}},
		{name: "markdown heading", version: "1.0.0", want: Pass, files: []string{"intro\n\n## Release 1.0.0\n"}},
		{name: "setext heading", version: "1.0.0", want: Pass, files: []string{"Runbook v1.0.0\n==============\n\nbody\n"}},
		{name: "asciidoc heading", version: "1.0.0", want: Pass, files: []string{"= Runbook 1.0.0\n\nbody\n"}},
		{name: "html heading", version: "1.0.0", want: Pass, files: []string{"<html><body><H1 class=t>Runbook 1.0.0</H1><p>x</p></body></html>"}},
		{name: "hashtag is no heading", version: "1.0.0", want: Fail, detail: "in no heading", files: []string{"#1.0.0 tagged\n"}},
		{name: "anywhere where a policy allows it", version: "1.0.0", params: map[string]string{"versionInHeading": "false"}, want: Pass, files: []string{"1.0.0"}},
	})
}

// Issue 12: one passing test and 99 skipped passed "100 % pass". Skipped tests beyond
// maxSkipped (default 0) count as not passed, and at least minTests (default 1) must run.
func TestJUnitSkippedAndTooFewTests(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<testsuite name="s" tests="100" skipped="99"><testcase name="T0"/>`)
	for i := 1; i < 100; i++ {
		b.WriteString(`<testcase name="S"><skipped/></testcase>`)
	}
	b.WriteString(`</testsuite>`)
	oneRan := b.String()
	const three = `<testsuite name="s" tests="3"><testcase name="A"/><testcase name="B"/><testcase name="C"/></testsuite>`
	const twoOfThree = `<testsuite name="s" tests="3" skipped="1"><testcase name="A"/><testcase name="B"/><testcase name="C"><skipped/></testcase></testsuite>`
	for _, tc := range []struct {
		name   string
		params map[string]string
		file   string
		want   Outcome
		detail string
	}{
		{"1 passed, 99 skipped", nil, oneRan, Fail, "100 tests, 0 failed, 99 skipped (1.0 % pass < 100 %) (99 skipped beyond maxSkipped 0 count as not passed)"},
		{"skips the policy allows", map[string]string{"maxSkipped": "99"}, oneRan, Pass, "(100.0 % pass)"},
		{"one skip more than allowed", map[string]string{"maxSkipped": "98"}, oneRan, Fail, "(1 skipped beyond maxSkipped 98 count as not passed)"},
		{"a skip against a lower bar", map[string]string{"minPassRate": "60"}, twoOfThree, Pass, "(66.6 % pass)"},
		{"too few tests", map[string]string{"minTests": "5"}, three, Fail, "(3 executed < minTests 5)"},
		{"enough tests", map[string]string{"minTests": "3"}, three, Pass, "3 tests, 0 failed, 0 skipped (100.0 % pass)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(Input{Type: "junit", Params: tc.params, Files: []File{{Name: "junit.xml", Data: []byte(tc.file)}}})
			if got.Outcome != tc.want || !strings.Contains(got.Detail, tc.detail) {
				t.Fatalf("got %s %q, want %s containing %q", got.Outcome, got.Detail, tc.want, tc.detail)
			}
		})
	}
}

// Issue 12: {"runs":[]} passed lint and the secrets scan, and any tool's SARIF was accepted
// for either. With tools set, a run of one of them is required and no other tool's counts.
func TestSARIFTools(t *testing.T) {
	const empty = `{"version":"2.1.0","runs":[]}`
	run := func(tool string) string {
		return `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"` + tool + `"}},"results":[]}]}`
	}
	lint := map[string]string{"tools": "staticcheck,golangci-lint"}
	runEvalCases(t, "sarif", []evalCase{
		{name: "no runs", params: lint, files: []string{empty}, want: Fail, detail: "no run of staticcheck or golangci-lint in the SARIF"},
		{name: "a clean staticcheck run", params: lint, files: []string{run("Staticcheck")}, want: Pass, detail: "0 errors"},
		{name: "golangci-lint", params: lint, files: []string{run("golangci-lint")}, want: Pass, detail: "(golangci-lint)"},
		{name: "gitleaks passed off as lint", params: lint, files: []string{run("gitleaks")}, want: Fail, detail: `a run of "gitleaks", which this check does not accept`},
		{name: "one right and one foreign run", params: lint, files: []string{run("staticcheck"), run("semgrep")}, want: Fail, detail: `"semgrep"`},
		{name: "no tools set: any tool", files: []string{run("semgrep")}, want: Pass, detail: "(semgrep)"},
	})
}

// Issue 12: a k6 summary of one request passed the load test. The seed asks for at least
// 1000 requests over at least a minute (http_reqs count ÷ rate).
func TestK6Volume(t *testing.T) {
	summary := func(count, rate float64) string {
		return fmt.Sprintf(`{"metrics":{"http_req_duration":{"p(95)":10},"http_req_failed":{"value":0},"http_reqs":{"count":%g,"rate":%g}}}`, count, rate)
	}
	for _, tc := range []struct {
		name   string
		params map[string]string
		file   string
		want   Outcome
		detail string
	}{
		{"one request", nil, summary(1, 1), Fail, "1 requests < minRequests 1000; test ran 1.0 s < minDurationMs 60000"},
		{"many requests in a burst", nil, summary(50000, 5000), Fail, "test ran 10.0 s < minDurationMs 60000"},
		{"a minute at 20 req/s", nil, summary(1200, 20), Pass, "all k6 thresholds passed"},
		{"a longer test asked for", map[string]string{"minDurationMs": "600000"}, summary(1200, 20), Fail, "test ran 60.0 s < minDurationMs 600000"},
		{"no http_reqs", nil, `{"metrics":{"http_req_duration":{"p(95)":10},"http_req_failed":{"value":0}}}`, Fail, "no http_reqs count and rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(Input{Type: "k6", Params: tc.params, Files: []File{{Name: "k6.json", Data: []byte(tc.file)}}})
			if got.Outcome != tc.want || !strings.Contains(got.Detail, tc.detail) {
				t.Fatalf("got %s %q, want %s containing %q", got.Outcome, got.Detail, tc.want, tc.detail)
			}
		})
	}
}

// Issue 12: nothing tied a report to the commit being released. A SARIF run naming another
// revision (versionControlProvenance) or an audit of another commit fails, naming the report;
// reports that name no revision are not judged on it.
func TestReportsBoundToTheCommit(t *testing.T) {
	release, other := strings.Repeat("ab", 20), strings.Repeat("cd", 20)
	sarif := func(rev string) string {
		return `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"staticcheck"}},"versionControlProvenance":[{"repositoryUri":"https://example.com/r","revisionId":"` + rev + `"}],"results":[]}]}`
	}
	audit := func(firm, commit string) string {
		return "firm: " + firm + "\ndate: 2026-11-01\nreportURL: https://example.com/" + firm + ".pdf\ncommit: " + commit + "\nfindings: []\n"
	}
	for _, tc := range []struct {
		name, typ string
		files     []string
		want      Outcome
		detail    string
	}{
		{"sarif of the release's commit", "sarif", []string{sarif(release)}, Pass, "0 errors"},
		{"sarif of the release's commit in capitals", "sarif", []string{sarif(strings.ToUpper(release))}, Pass, "0 errors"},
		{"sarif of another commit", "sarif", []string{sarif(other)}, Fail, "lint.sarif was made from commit cdcdcdcdcdcd, not the release's abababababab"},
		{"sarif of an abbreviated commit", "sarif", []string{sarif(release[:7])}, Fail, "made from commit abababa"},
		{"sarif naming no revision", "sarif", []string{`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"staticcheck"}},"results":[]}]}`}, Pass, ""},
		{"audits of the release's commit", "audit", []string{audit("A", release), audit("B", release)}, Pass, "2 reports"},
		{"an audit of another commit", "audit", []string{audit("A", release), audit("B", other)}, Fail, "lint.sarif1 was made from commit cdcd"},
		{"junit of the release's commit", "junit", []string{`<testsuites><testsuite name="s"><properties><property name="git.commit" value="` + release + `"/></properties><testcase name="a"/></testsuite></testsuites>`}, Pass, "1 test"},
		{"junit of another commit", "junit", []string{`<testsuite name="s"><properties><property name="other" value="x"/><property name="commit" value="` + other + `"/></properties><testcase name="a"/></testsuite>`}, Fail, "made from commit cdcdcdcdcdcd"},
		{"junit of another commit in a nested suite", "junit", []string{`<testsuite name="s"><testsuite name="t"><properties><property name="REVISION" value="` + other + `"/></properties><testcase name="a"/></testsuite></testsuite>`}, Fail, "made from commit cdcd"},
		{"a build matrix of the release's commit", "buildmatrix", []string{`[{"platform":"linux/amd64","status":"success","commit":"` + release + `"}]`}, Pass, "linux/amd64"},
		{"a build matrix of another commit", "buildmatrix", []string{`[{"platform":"linux/amd64","status":"success","commit":"` + other + `"}]`}, Fail, "made from commit cdcdcdcdcdcd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Type: tc.typ, Commit: release, Params: map[string]string{}}
			if tc.typ == "buildmatrix" {
				in.Params["platforms"] = "linux/amd64"
			}
			for i, f := range tc.files {
				name := "lint.sarif"
				if i > 0 {
					name += fmt.Sprint(i)
				}
				in.Files = append(in.Files, File{Name: name, Data: []byte(f)})
			}
			got := Evaluate(in)
			if got.Outcome != tc.want || !strings.Contains(got.Detail, tc.detail) {
				t.Fatalf("got %s %q, want %s containing %q", got.Outcome, got.Detail, tc.want, tc.detail)
			}
		})
	}
	if _, err := ParseAudit([]byte(audit("A", "abc123"))); err == nil || !strings.Contains(err.Error(), "line 4, column 9: field commit is not a full commit SHA") {
		t.Fatalf("short audit commit: %v", err)
	}
}

// Issue 12: a document must differ from the one the release production serves passed the
// same check with: not the same file, nor the same file with its version changed.
func TestDocumentDiffersFromPrevious(t *testing.T) {
	const old = "# Runbook 1.3.0\n\nRestart the service; 1.3.0 needs no migration.\n"
	prev := &Previous{Release: "release/pay/1.3.0", Version: "1.3.0",
		SHA256: []string{sha256Hex([]byte(old))}, Files: []File{{Name: "docs/runbook.md", Data: []byte(old)}}}
	byDigestOnly := &Previous{Release: prev.Release, Version: prev.Version, SHA256: prev.SHA256}
	for _, tc := range []struct {
		name   string
		doc    string
		prev   *Previous
		params map[string]string
		want   Outcome
		detail string
	}{
		{"the same file", old, prev, nil, Fail, "runbook.md is the document release/pay/1.3.0 passed with, unchanged (sha256 "},
		{"the same file, the earlier one gone from the store", old, byDigestOnly, nil, Fail, "passed with, unchanged"},
		{"only the version bumped", "# Runbook 1.4.0\n\nRestart the service; 1.4.0 needs no migration.\n", prev, nil, Fail,
			"runbook.md differs from runbook.md, which release/pay/1.3.0 passed with, only in its version; this release needs its own"},
		{"the version bumped and the lines rewrapped", "# Runbook 1.4.0\n\nRestart the service;\n1.4.0 needs no   migration.\n", prev, nil, Fail, "only in its version"},
		{"a new step", "# Runbook 1.4.0\n\nRestart the service; 1.4.0 runs migration 42 first.\n", prev, nil, Pass, "runbook.md names version 1.4.0; new since release/pay/1.3.0"},
		{"no release in production yet", "# Runbook 1.4.0\n", nil, nil, Pass, "runbook.md names version 1.4.0"},
		{"a policy that allows copies", "# Runbook 1.4.0\n\nRestart the service; 1.4.0 needs no migration.\n", prev, map[string]string{"differFromPrevious": "false"}, Pass, "names version 1.4.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version := "1.4.0"
			if tc.doc == old {
				version = "1.3.0" // a re-run of the same version's documents
			}
			got := Evaluate(Input{Type: "document", Version: version, Params: tc.params, Previous: tc.prev,
				Files: []File{{Name: "docs/runbook.md", Data: []byte(tc.doc)}}})
			if got.Outcome != tc.want || !strings.Contains(got.Detail, tc.detail) {
				t.Fatalf("got %s %q, want %s containing %q", got.Outcome, got.Detail, tc.want, tc.detail)
			}
		})
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
