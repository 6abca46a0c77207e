package evidence

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readFixture loads testdata/<name> as a File named by its path, as a manifest would name it.
func readFixture(t testing.TB, name string) File {
	t.Helper()
	p := filepath.Join("testdata", filepath.FromSlash(name))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return File{Name: "testdata/" + name, Data: data}
}

// TestFixtures evaluates the files real tools produced (see testdata/*/README.md) and pins
// the verdict and the words of the detail a release manager reads.
func TestFixtures(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		params  map[string]string
		files   []string
		version string
		want    Outcome
		detail  []string // substrings the detail must contain
	}{
		// junit
		{"gotestsum green", "junit", nil, []string{"junit/gotestsum-pass.xml"}, "", Pass,
			[]string{"7 tests, 0 failed, 1 skipped (100.0 % pass)"}},
		{"gotestsum red", "junit", nil, []string{"junit/gotestsum-fail.xml"}, "", Fail,
			[]string{"7 tests, 2 failed, 1 skipped (66.6 % pass < 100 %): TestTotalBroken, TestEmptyBroken"}},
		{"gotestsum red under a lower bar", "junit", map[string]string{"minPassRate": "60"}, []string{"junit/gotestsum-fail.xml"}, "", Pass,
			[]string{"(66.6 % pass)"}},
		// The root's errors="1" is the same build failure as the TestMain case: counted once.
		{"gotestsum build failure", "junit", map[string]string{"minPassRate": "0"}, []string{"junit/gotestsum-buildfail.xml"}, "", Pass,
			[]string{"5 tests, 1 failed, 1 skipped (75.0 % pass): TestMain"}},
		{"gotestsum build failure fails the default", "junit", nil, []string{"junit/gotestsum-buildfail.xml"}, "", Fail,
			[]string{"1 failed", "TestMain"}},
		{"mocha green", "junit", nil, []string{"junit/mocha-pass.xml"}, "", Pass,
			[]string{"6 tests, 0 failed, 1 skipped"}},
		{"mocha red", "junit", nil, []string{"junit/mocha-fail.xml"}, "", Fail,
			[]string{"6 tests, 1 failed, 1 skipped (80.0 % pass < 100 %): shippingCost charges world rate"}},
		{"pytest green", "junit", nil, []string{"junit/pytest-pass.xml"}, "", Pass,
			[]string{"5 tests, 0 failed, 1 skipped"}},
		{"pytest failure and setup error", "junit", nil, []string{"junit/pytest-fail.xml"}, "", Fail,
			[]string{"5 tests, 2 failed, 1 skipped", "test_restocking_fee, test_uses_db"}},
		{"surefire flaky test passes", "junit", nil, []string{"junit/surefire-pass.xml"}, "", Pass,
			[]string{"4 tests, 0 failed, 1 skipped"}},
		{"surefire failure and error", "junit", nil, []string{"junit/surefire-fail.xml"}, "", Fail,
			[]string{"3 tests, 2 failed", "releasesStockOnCancel, loadsWarehouse"}},
		{"several reports add up", "junit", nil, []string{"junit/gotestsum-pass.xml", "junit/mocha-pass.xml", "junit/pytest-pass.xml"}, "", Pass,
			[]string{"18 tests, 0 failed, 3 skipped"}},
		{"playwright: three browsers green", "junit", map[string]string{"reports": "chromium,firefox,webkit"}, []string{"junit/playwright-3-browsers.xml"}, "", Pass,
			[]string{"6 tests, 0 failed, 0 skipped (100.0 % pass)"}},
		{"playwright: one browser red", "junit", map[string]string{"reports": "chromium,firefox,webkit"}, []string{"junit/playwright-firefox-fails.xml"}, "", Fail,
			[]string{"browser firefox: 2 tests, 1 failed, 0 skipped (50.0 % pass < 100 %): coupon rejects expired codes"}},
		{"playwright: a browser that did not run", "junit", map[string]string{"reports": "chromium,firefox,webkit"}, []string{"junit/playwright-chromium-only.xml"}, "", Fail,
			[]string{"browser firefox missing", "browser webkit missing"}},
		{"reports without browsers name none", "junit", map[string]string{"reports": "chromium"}, []string{"junit/gotestsum-pass.xml", "junit/mocha-pass.xml"}, "", Fail,
			[]string{"browser chromium missing"}},
		{"xUnit.net JUnit with a byte-order mark", "junit", nil, []string{"junit/xunit-junit-bom.xml"}, "", Fail,
			[]string{"3 tests, 1 failed, 1 skipped (50.0 % pass < 100 %): Shop.Tests.PriceTests.Discount_RoundsDown"}},
		{"suite attributes do not invent tests", "junit", map[string]string{"minPassRate": "95"}, []string{"junit/wrapper-186.xml"}, "", Fail,
			[]string{"3 tests, 1 failed, 0 skipped (66.6 % pass < 95 %): applies voucher"}},
		{"surefire: failed twice, then passed", "junit", nil, []string{"junit/surefire-flaky-twice.xml"}, "", Pass,
			[]string{"1 test, 0 failed, 0 skipped, 1 flaky (100.0 % pass)"}},
		{"surefire: flaky fails when the policy says so", "junit", map[string]string{"flaky": "fail"}, []string{"junit/surefire-flaky-twice.xml"}, "", Fail,
			[]string{"1 test, 1 failed, 0 skipped, 1 flaky (0.0 % pass < 100 %): capturesPayment"}},
		{"surefire: flaky failure, flaky error, failed reruns", "junit", map[string]string{"minPassRate": "75"}, []string{"junit/surefire-reruns.xml"}, "", Pass,
			[]string{"4 tests, 1 failed, 0 skipped, 2 flaky (75.0 % pass): tracksParcel"}},
		{"surefire: reruns with flaky: fail", "junit", map[string]string{"minPassRate": "75", "flaky": "fail"}, []string{"junit/surefire-reruns.xml"}, "", Fail,
			[]string{"4 tests, 3 failed, 0 skipped, 2 flaky (25.0 % pass < 75 %): tracksParcel, quotesWorld, loadsCarriers"}},
		{"ISO-8859-1 declared", "junit", nil, []string{"junit/iso-8859-1.xml"}, "", Fail,
			[]string{"2 tests, 1 failed, 0 skipped (50.0 % pass < 100 %): rundetGrößeAb"}},
		{"windows-1252 declared", "junit", nil, []string{"junit/windows-1252.xml"}, "", Fail,
			[]string{"2 tests, 1 failed, 0 skipped (50.0 % pass < 100 %): rounds 0,005 € – down"}},
		{"UTF-16 is refused", "junit", nil, []string{"junit/utf16.xml"}, "", Error,
			[]string{"testdata/junit/utf16.xml: line 1, column 1: the file is UTF-16", "save it as UTF-8"}},
		{"ctest: a disabled test is skipped", "junit", nil, []string{"junit/ctest-disabled.xml"}, "", Pass,
			[]string{"3 tests, 0 failed, 1 skipped (100.0 % pass)"}},
		{"gtest: disabled and skipped", "junit", nil, []string{"junit/gtest-disabled.xml"}, "", Pass,
			[]string{"4 tests, 0 failed, 2 skipped (100.0 % pass)"}},
		{"gtest: the disabled test does not count as a pass", "junit", map[string]string{"minPassRate": "60"}, []string{"junit/gtest-fail.xml"}, "", Fail,
			[]string{"4 tests, 1 failed, 2 skipped (50.0 % pass < 60 %): Rounding"}},

		// coverage
		{"go profile 100 %", "coverage", nil, []string{"coverage/gocover-price.out"}, "", Pass,
			[]string{"coverage 100.0 % ≥ 80 % (6/6 statements)"}},
		{"go profile 40 %", "coverage", nil, []string{"coverage/gocover-cart.out"}, "", Fail,
			[]string{"coverage 40.0 % < 80 % (4/10 statements)"}},
		{"go profiles merge by statement", "coverage", map[string]string{"min": "60"}, []string{"coverage/gocover-price.out", "coverage/gocover-cart.out"}, "", Pass,
			[]string{"coverage 62.5 % ≥ 60 % (10/16 statements)"}},
		{"coverpkg duplicates counted once", "coverage", map[string]string{"min": "62.5"}, []string{"coverage/gocover-coverpkg.out"}, "", Pass,
			[]string{"(10/16 statements)"}},
		{"c8 lcov at the bar", "coverage", nil, []string{"coverage/c8.lcov"}, "", Pass,
			[]string{"coverage 80.0 % ≥ 80 % (24/30 lines)"}},
		{"c8 lcov low", "coverage", nil, []string{"coverage/c8-low.lcov"}, "", Fail,
			[]string{"coverage 40.0 % < 80 % (12/30 lines)"}},
		{"c8 cobertura", "coverage", map[string]string{"format": "cobertura"}, []string{"coverage/c8-cobertura.xml"}, "", Pass,
			[]string{"(24/30 lines)"}},
		{"c8 cobertura low, auto", "coverage", map[string]string{"min": "85"}, []string{"coverage/c8-low-cobertura.xml"}, "", Fail,
			[]string{"coverage 40.0 % < 85 %"}},
		{"lcov 2.x capture with a comment line", "coverage", nil, []string{"coverage/lcov2-gcc.lcov"}, "", Pass,
			[]string{"coverage 80.0 % ≥ 80 % (4/5 lines)"}},
		{"lcov 2.x rewrite of c8 with a comment line", "coverage", nil, []string{"coverage/lcov2-c8-comment.lcov"}, "", Pass,
			[]string{"(24/30 lines)"}},
		{"lcov with a byte-order mark", "coverage", nil, []string{"coverage/c8-bom.lcov"}, "", Pass,
			[]string{"(24/30 lines)"}},
		{"wrong explicit format", "coverage", map[string]string{"format": "lcov"}, []string{"coverage/gocover-price.out"}, "", Error,
			[]string{"testdata/coverage/gocover-price.out: line 1"}},
		{"formats do not mix", "coverage", nil, []string{"coverage/c8.lcov", "coverage/gocover-price.out"}, "", Error,
			[]string{"cannot merge coverage of different formats"}},

		// sarif
		{"staticcheck clean", "sarif", nil, []string{"sarif/staticcheck-clean.sarif"}, "", Pass,
			[]string{"0 errors, 0 warnings, 0 notes; 0 critical, 0 high (Staticcheck)"}},
		{"staticcheck findings are warnings", "sarif", nil, []string{"sarif/staticcheck-findings.sarif"}, "", Fail,
			[]string{"3 warnings > 0: S1039 at lintbad/lintbad.go:11, SA1018 at lintbad/lintbad.go:12"}},
		{"staticcheck findings tolerated", "sarif", map[string]string{"maxWarnings": "unlimited"}, []string{"sarif/staticcheck-findings.sarif"}, "", Pass,
			[]string{"3 warnings"}},
		{"semgrep word severities", "sarif", map[string]string{"maxWarnings": "unlimited", "maxErrors": "unlimited"}, []string{"sarif/semgrep-words.sarif"}, "", Fail,
			[]string{"1 critical > 0: python.flask.security.audit.render-template-string.render-template-string at app/views.py:22", "1 error, 1 warning, 0 notes; 1 critical, 0 high (Semgrep OSS)"}},
		{"semgrep words under a critical allowance", "sarif", map[string]string{"maxWarnings": "unlimited", "maxErrors": "unlimited", "maxCritical": "1"}, []string{"sarif/semgrep-words.sarif"}, "", Pass, nil},
		{".NET compiler SARIF with a byte-order mark", "sarif", nil, []string{"sarif/dotnet-bom.sarif"}, "", Fail,
			[]string{"1 warning > 0: CA2100 at file:///src/Shop/OrderRepository.cs:27"}},
		{"absent since the baseline is not a finding", "sarif", nil, []string{"sarif/multitool-baseline.sarif"}, "", Fail,
			[]string{"2 warnings > 0: SA1018 at lintbad/lintbad.go:12, SA4000", "; 1 fixed since the baseline (Staticcheck)"}},

		// govulncheck
		{"reachable vulnerability", "govulncheck", nil, []string{"govulncheck/reachable.json"}, "", Fail,
			[]string{"1 reachable vulnerability: GO-2099-0001 (github.com/google/uuid@v1.3.0, fixed in v1.3.1) via github.com/google/uuid.ParseBytes",
				"1 imported but not called: GO-2099-0002"}},
		{"imported only", "govulncheck", nil, []string{"govulncheck/unreachable.json"}, "", Pass,
			[]string{"no reachable vulnerabilities; 2 imported but not called: GO-2099-0001"}},
		{"imported only, strict", "govulncheck", map[string]string{"failUnreachable": "true"}, []string{"govulncheck/unreachable.json"}, "", Fail,
			[]string{"failUnreachable"}},
		{"clean scan", "govulncheck", nil, []string{"govulncheck/clean.json"}, "", Pass,
			[]string{"no reachable vulnerabilities"}},
		{"module scan with findings fails", "govulncheck", nil, []string{"govulncheck/scan-module.json"}, "", Fail,
			[]string{"2 vulnerabilities that a -scan module scan cannot tell reachable or not: GO-2099-0001 (github.com/google/uuid@v1.3.0, fixed in v1.3.1), GO-2099-0002", "-scan symbol"}},
		{"package scan with findings fails", "govulncheck", nil, []string{"govulncheck/scan-package.json"}, "", Fail,
			[]string{"2 vulnerabilities that a -scan package scan cannot tell reachable or not"}},
		{"clean module scan", "govulncheck", nil, []string{"govulncheck/scan-module-clean.json"}, "", Pass,
			[]string{"no vulnerable module required (-scan module)"}},
		{"query mode lists vulnerable modules", "govulncheck", nil, []string{"govulncheck/query.json"}, "", Fail,
			[]string{"2 known vulnerabilities in the queried modules (-mode query does not scan the code): GO-2099-0001, GO-2099-0002"}},
		{"binary mode", "govulncheck", nil, []string{"govulncheck/binary.json"}, "", Fail,
			[]string{"1 reachable vulnerability: GO-2099-0001 (github.com/google/uuid@v1.3.0, fixed in v1.3.1) via github.com/google/uuid.ParseBytes"}},
		{"stream wrapped by jq -s", "govulncheck", nil, []string{"govulncheck/slurped.json"}, "", Fail,
			[]string{"1 reachable vulnerability: GO-2099-0001", "1 imported but not called: GO-2099-0002"}},

		// audit
		{"two firms resolved", "audit", nil, []string{"audit/tob-2026-10.yaml", "audit/oz-2026-11-final.yaml"}, "", Pass,
			[]string{"2 reports from OpenZeppelin, Trail of Bits"}},
		{"one firm is not enough", "audit", nil, []string{"audit/oz-2026-11-final.yaml"}, "", Fail,
			[]string{"1 of 2 required reports from distinct firms"}},
		{"two reports of one firm are one", "audit", nil, []string{"audit/oz-2026-11-final.yaml", "audit/oz-2026-11-draft.yaml"}, "", Fail,
			[]string{"1 of 2 required reports"}},
		{"open high and unjustified medium", "audit", map[string]string{"minReports": "1"}, []string{"audit/oz-2026-11-draft.yaml"}, "", Fail,
			[]string{"1 open critical/high finding: OZ-7", "1 acknowledged finding without justification: OZ-9"}},

		// k6
		{"k6 green", "k6", map[string]string{"maxP95Ms": "500", "maxP99Ms": "1000"}, []string{"k6/pass.json"}, "", Pass,
			[]string{"p(95) 30.8 ms", "failed 0.00 %", "all k6 thresholds passed"}},
		{"k6 red", "k6", nil, []string{"k6/fail.json"}, "", Fail,
			[]string{"http_req_failed 27.50 % > 1 %", "k6 thresholds failed: http_req_duration p(99)<0.001, http_req_failed rate<0.01"}},
		{"k6 latency over the policy", "k6", map[string]string{"maxP95Ms": "10"}, []string{"k6/pass.json"}, "", Fail,
			[]string{"http_req_duration p(95) 30.8 ms > 10 ms"}},
		{"k6 handleSummary JSON", "k6", map[string]string{"maxP95Ms": "300", "maxP99Ms": "800"}, []string{"k6/handle-summary.json"}, "", Pass,
			[]string{"p(95) 52.3 ms, p(99) 454.9 ms, failed 0.00 %; all k6 thresholds passed"}},
		{"k6 handleSummary JSON over the policy", "k6", map[string]string{"maxP99Ms": "100"}, []string{"k6/handle-summary.json"}, "", Fail,
			[]string{"http_req_duration p(99) 454.9 ms > 100 ms"}},
		{"k6 without p(99)", "k6", map[string]string{"maxP99Ms": "100"}, []string{"k6/default-stats.json"}, "", Error,
			[]string{"has no p(99)", "--summary-trend-stats"}},

		// buildmatrix
		{"matrix green", "buildmatrix", map[string]string{"platforms": "linux/amd64,darwin/arm64"}, []string{"buildmatrix/matrix-green.json"}, "", Pass,
			[]string{"2 platforms green"}},
		{"matrix red and missing", "buildmatrix", map[string]string{"platforms": "linux/amd64,darwin/arm64,windows/amd64,linux/arm64"}, []string{"buildmatrix/matrix-red.json"}, "", Fail,
			[]string{"not green: darwin/arm64 (failure), windows/amd64 (cancelled)", "missing: linux/arm64"}},
		{"matrix as junit", "buildmatrix", map[string]string{"platforms": "linux/amd64,darwin/arm64"}, []string{"buildmatrix/matrix-junit.xml"}, "", Fail,
			[]string{"not green: darwin/arm64 (2 tests, 1 failed"}},
		{"matrix with a byte-order mark", "buildmatrix", map[string]string{"platforms": "linux/amd64,darwin/arm64"}, []string{"buildmatrix/matrix-bom.json"}, "", Pass, nil},
		{"matrix as junit, green part", "buildmatrix", map[string]string{"platforms": "linux/amd64"}, []string{"buildmatrix/matrix-junit.xml"}, "", Pass, nil},

		// document
		{"runbook and rollback name the version", "document", nil, []string{"document/runbook.md", "document/rollback.md"}, "1.4.0", Pass,
			[]string{"runbook.md, rollback.md name version 1.4.0"}},
		{"v-prefixed version", "document", nil, []string{"document/rollback.md"}, "v1.4.0", Pass, nil},
		{"stale plan", "document", nil, []string{"document/incident-plan-stale.md"}, "1.4.0", Fail,
			[]string{"incident-plan-stale.md does not name version 1.4.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Type: tc.typ, Params: junitCounting(tc.typ, tc.params), Version: tc.version}
			for _, f := range tc.files {
				in.Files = append(in.Files, readFixture(t, f))
			}
			got := Evaluate(in)
			if got.Outcome != tc.want {
				t.Fatalf("outcome %s, want %s; detail: %s", got.Outcome, tc.want, got.Detail)
			}
			for _, s := range tc.detail {
				if !strings.Contains(got.Detail, s) {
					t.Errorf("detail %q does not contain %q", got.Detail, s)
				}
			}
		})
	}
}

func TestAuditCheckURL(t *testing.T) {
	files := []File{readFixture(t, "audit/tob-2026-10.yaml"), readFixture(t, "audit/oz-2026-11-final.yaml")}
	var asked []string
	in := Input{Type: "audit", Files: files, CheckURL: func(url string) error {
		asked = append(asked, url)
		if strings.Contains(url, "openzeppelin") {
			return errors.New("HTTP 404")
		}
		return nil
	}}
	got := Evaluate(in)
	if got.Outcome != Fail || !strings.Contains(got.Detail, "report URL unreachable: https://blog.openzeppelin.com/shop-vault-audit (oz-2026-11-final.yaml: HTTP 404)") {
		t.Fatalf("got %+v", got)
	}
	if len(asked) != 2 {
		t.Fatalf("CheckURL asked for %v, want both reports", asked)
	}
	in.CheckURL = func(string) error { return nil }
	if got := Evaluate(in); got.Outcome != Pass {
		t.Fatalf("reachable URLs: got %+v", got)
	}
}

// junitCounting lets skipped tests be skipped (maxSkipped unlimited) and small k6 runs count
// (no minimum volume) unless a case says otherwise: these cases pin how each tool's report is
// read; the rules on skipped tests and on a load test's volume have their own tests
// (TestJUnitSkippedAndTooFewTests, TestK6Volume).
func junitCounting(typ string, params map[string]string) map[string]string {
	var out map[string]string
	switch typ {
	case "junit":
		out = map[string]string{"maxSkipped": "unlimited"}
	case "k6":
		out = map[string]string{"minRequests": "1", "minDurationMs": "0"}
	case "govulncheck":
		out = map[string]string{"symbolScan": "false"} // how coarse scans read; the rule: TestGovulncheckNeedsSymbolScan
	default:
		return params
	}
	for k, v := range params {
		out[k] = v
	}
	return out
}

// Issue 12: a govulncheck -scan module run with a known vulnerability passed. The seed needs
// the symbol-level scan: coarser runs (real ones, testdata/govulncheck) fail, clean or not.
func TestGovulncheckNeedsSymbolScan(t *testing.T) {
	for _, name := range []string{"govulncheck/scan-module.json", "govulncheck/scan-module-clean.json", "govulncheck/scan-package.json"} {
		got := Evaluate(Input{Type: "govulncheck", Files: []File{readFixture(t, name)}})
		if got.Outcome != Fail || !strings.Contains(got.Detail, "needs the symbol-level scan") {
			t.Errorf("%s: %s %q", name, got.Outcome, got.Detail)
		}
	}
}
