package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addSeeds adds every fixture under testdata/<dir> matching the extensions, and extra inputs.
func addSeeds(f *testing.F, dir string, exts []string, extra ...string) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		for _, ext := range exts {
			if strings.HasSuffix(p, ext) {
				data, err := os.ReadFile(p)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(data)
			}
		}
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// checkConsistent evaluates data as the only file of a check and fails when a parse error
// did not give an Error verdict or when Evaluate had to recover from a panic.
func checkConsistent(t *testing.T, typ string, params map[string]string, data []byte, parseErr error) {
	t.Helper()
	res := Evaluate(Input{Type: typ, Params: params, Version: "1.0.0", Files: []File{{Name: "fuzz.in", Data: data}}})
	if strings.Contains(res.Detail, "internal error") {
		t.Fatalf("Evaluate recovered from a panic: %s", res.Detail)
	}
	if parseErr != nil && (res.Outcome != Error || !strings.Contains(res.Detail, "fuzz.in")) {
		t.Fatalf("parse error %v but Evaluate gave %s %q", parseErr, res.Outcome, res.Detail)
	}
}

func FuzzJUnit(f *testing.F) {
	addSeeds(f, "junit", []string{".xml"}, "<testsuite/>", "<testsuites><testsuite tests=\"3\" failures=\"5\"/></testsuites>",
		"<testsuite><testcase name=\"a\"><failure/><skipped/></testcase></testsuite>",
		"\xef\xbb\xbf<testsuite tests=\"3\" failures=\"2\"><testcase name=\"a\" status=\"disabled\"><flakyFailure/></testcase></testsuite>",
		"<?xml version=\"1.0\" encoding=\"windows-1252\"?><testsuite><testcase name=\"\x80\"/></testsuite>")
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseJUnit(data)
		if err == nil {
			if r.Passed() > r.Executed() || r.Executed() > r.Tests || r.Failures < 0 || r.Skipped < 0 || r.Flaky > r.Tests || len(r.FlakyOK) != r.Flaky {
				t.Fatalf("inconsistent counts %+v", r)
			}
			if rate := r.PassRate(); rate < 0 || rate > 100 {
				t.Fatalf("pass rate %v", rate)
			}
		}
		checkConsistent(t, "junit", nil, data, err)
	})
}

func FuzzCoverage(f *testing.F) {
	addSeeds(f, "coverage", []string{".out", ".lcov", ".xml"}, "mode: set\na.go:1.1,2.2 1 1\n", "SF:a\nDA:1,1\nLF:1\nLH:1\nend_of_record\n", "#c\nSF:a\n# c\nDA:1,0\nend_of_record\n",
		"<coverage line-rate=\"0.5\"/>")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCoverage(data, "auto")
		if err == nil {
			if c.Covered < 0 || c.Covered > c.Total || c.Percent < 0 || c.Percent > 100 {
				t.Fatalf("inconsistent coverage %+v", c)
			}
		}
		checkConsistent(t, "coverage", nil, data, err)
	})
}

func FuzzSARIF(f *testing.F) {
	addSeeds(f, "sarif", []string{".sarif"}, `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"id":"R","properties":{"security-severity":"9"}}]}},"results":[{"ruleIndex":0,"rule":{"index":3,"toolComponent":{"index":7}}}]}]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseSARIF(data)
		if err == nil && (r.Errors < 0 || r.Critical+r.High > r.Errors+r.Warnings+r.Notes+len(r.Findings)) {
			t.Fatalf("inconsistent report %+v", r)
		}
		checkConsistent(t, "sarif", nil, data, err)
	})
}

func FuzzGovulncheck(f *testing.F) {
	addSeeds(f, "govulncheck", []string{".json"}, `{"config":{}}{"finding":{"osv":"G","trace":[{"module":"m","function":"F"}]}}`,
		`[{"config":{"scan_level":"module"}},{"finding":{"osv":"G","trace":[{"module":"m"}]}}]`, `{"config":{"scan_mode":"query"}}{"osv":{"id":"G"}}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseGovulncheck(data)
		if err == nil {
			for _, v := range r.Vulns {
				if vulnRank[v.Level] == 0 || v.ID == "" {
					t.Fatalf("bad vuln %+v", v)
				}
			}
		}
		checkConsistent(t, "govulncheck", nil, data, err)
	})
}

func FuzzAudit(f *testing.F) {
	addSeeds(f, "audit", []string{".yaml"}, goodAudit, "firm: &a x\ndate: *a\n", "{firm: [1, 2]}")
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseAudit(data)
		if err == nil && (r.Firm == "" || r.ReportURL == "" || r.Date.IsZero()) {
			t.Fatalf("accepted an incomplete report %+v", r)
		}
		checkConsistent(t, "audit", map[string]string{"minReports": "1"}, data, err)
	})
}

func FuzzK6(f *testing.F) {
	addSeeds(f, "k6", []string{".json"}, `{"metrics":{"http_req_duration":{"p(95)":1},"http_req_failed":{"value":0}}}`,
		`{"metrics":{"http_req_duration":{"type":"trend","values":{"p(95)":1},"thresholds":{"p(95)<2":{"ok":true}}},"http_req_failed":{"type":"rate","values":{"rate":0}}}}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseK6Summary(data)
		checkConsistent(t, "k6", map[string]string{"maxP95Ms": "100"}, data, err)
	})
}

func FuzzBuildMatrix(f *testing.F) {
	addSeeds(f, "buildmatrix", []string{".json", ".xml"})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseBuildMatrix(data)
		checkConsistent(t, "buildmatrix", map[string]string{"platforms": "linux/amd64"}, data, err)
	})
}

func FuzzNamesVersion(f *testing.F) {
	f.Add([]byte("release v1.4.0."), "1.4.0")
	f.Add([]byte("vvvv1.2"), "v1.2")
	f.Add([]byte("\xff1.0\xff"), "1.0")
	f.Fuzz(func(t *testing.T, text []byte, version string) {
		got := NamesVersion(text, version)
		core := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(version), "v"), "V")
		if got && !strings.Contains(string(text), core) {
			t.Fatalf("NamesVersion(%q, %q) true, but the text does not contain %q", text, version, core)
		}
	})
}

// FuzzHeadings: finding a document's headings never panics, and a heading is a piece of the
// document (never text it does not hold).
func FuzzHeadings(f *testing.F) {
	for _, s := range []string{"# Runbook 1.4.0\n", "Title\n=====\n", "= A\n", "<h2>x</h2>", "<h7>", "<h1>unclosed", "#\n", "######## deep\n", "x\n--\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, h := range headings(data) {
			if !bytes.Contains(data, h) {
				t.Fatalf("heading %q is not in the document", h)
			}
		}
		_ = namesVersionInHeading(data, "1.0.0")
	})
}

// FuzzDocumentAgainstPrevious: comparing a document with the previous release's never panics,
// a document is never new against itself, nor against itself with the other version named.
func FuzzDocumentAgainstPrevious(f *testing.F) {
	f.Add([]byte("# Runbook 1.4.0\nstep\n"), []byte("# Runbook 1.3.0\nstep\n"))
	f.Add([]byte("\xff# 1.4.0"), []byte(""))
	f.Fuzz(func(t *testing.T, doc, old []byte) {
		in := func(prev []byte) Input {
			sum := sha256.Sum256(prev)
			return Input{Type: "document", Version: "1.4.0", Params: map[string]string{"versionInHeading": "false"},
				Files: []File{{Name: "doc.md", Data: doc}},
				Previous: &Previous{Release: "release/s/1.3.0", Version: "1.3.0", SHA256: []string{hex.EncodeToString(sum[:])},
					Files: []File{{Name: "old.md", Data: prev}}}}
		}
		_ = Evaluate(in(old))
		if r := Evaluate(in(doc)); r.Outcome == Pass {
			t.Fatalf("a document passed against itself: %q", r.Detail)
		}
		if bytes.Contains(doc, []byte("1.3.0")) {
			return
		}
		if r := Evaluate(in(bytes.ReplaceAll(doc, []byte("1.4.0"), []byte("1.3.0")))); r.Outcome == Pass {
			t.Fatalf("a document passed against the previous one with only the version changed: %q", r.Detail)
		}
	})
}
