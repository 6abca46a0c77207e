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
		{"named reports all present", "junit", map[string]string{"reports": "gotestsum,mocha"}, []string{"junit/gotestsum-pass.xml", "junit/mocha-pass.xml"}, "", Pass, nil},
		{"named report missing", "junit", map[string]string{"reports": "gotestsum,surefire"}, []string{"junit/gotestsum-pass.xml", "junit/mocha-pass.xml"}, "", Fail,
			[]string{"report surefire missing"}},
		{"named report red", "junit", map[string]string{"reports": "pytest,mocha"}, []string{"junit/pytest-pass.xml", "junit/mocha-fail.xml"}, "", Fail,
			[]string{"report mocha: 6 tests, 1 failed"}},

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
		{"k6 without p(99)", "k6", map[string]string{"maxP99Ms": "100"}, []string{"k6/default-stats.json"}, "", Error,
			[]string{"has no p(99)", "--summary-trend-stats"}},

		// buildmatrix
		{"matrix green", "buildmatrix", map[string]string{"platforms": "linux/amd64,darwin/arm64"}, []string{"buildmatrix/matrix-green.json"}, "", Pass,
			[]string{"2 platforms green"}},
		{"matrix red and missing", "buildmatrix", map[string]string{"platforms": "linux/amd64,darwin/arm64,windows/amd64,linux/arm64"}, []string{"buildmatrix/matrix-red.json"}, "", Fail,
			[]string{"not green: darwin/arm64 (failure), windows/amd64 (cancelled)", "missing: linux/arm64"}},
		{"matrix as junit", "buildmatrix", map[string]string{"platforms": "linux/amd64,darwin/arm64"}, []string{"buildmatrix/matrix-junit.xml"}, "", Fail,
			[]string{"not green: darwin/arm64 (2 tests, 1 failed"}},
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
			in := Input{Type: tc.typ, Params: tc.params, Version: tc.version}
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
