package evidence

import (
	"sort"
	"strings"
	"testing"
)

func TestTypesSorted(t *testing.T) {
	got := Types()
	want := []string{"audit", "buildmatrix", "coverage", "document", "govulncheck", "junit", "k6", "sarif"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
	if !sort.StringsAreSorted(got) {
		t.Fatalf("Types() not sorted: %v", got)
	}
}

func TestValidateParams(t *testing.T) {
	tests := []struct {
		typ     string
		params  map[string]string
		wantErr string // "" = valid
	}{
		{"junit", nil, ""},
		{"junit", map[string]string{"minPassRate": "99.5", "reports": "chromium, firefox"}, ""},
		{"junit", map[string]string{"minPassRate": "abc"}, `param minPassRate: "abc" is not a number`},
		{"junit", map[string]string{"minPassRate": "101"}, "param minPassRate: 101 is out of range [0, 100]"},
		{"junit", map[string]string{"minPassRate": "NaN"}, "is not a number"},
		{"junit", map[string]string{"reports": "a,,b"}, "param reports: \"a,,b\" has an empty name"},
		{"junit", map[string]string{"minPassrate": "90"}, `unknown param "minPassrate"`},
		{"coverage", map[string]string{"min": "80", "format": "lcov"}, ""},
		{"coverage", map[string]string{"format": "jacoco"}, `param format: "jacoco" is not one of auto, gocover, lcov, cobertura`},
		{"coverage", map[string]string{"min": "-1"}, "out of range"},
		{"sarif", map[string]string{"maxErrors": "0", "maxWarnings": "unlimited", "maxCritical": "2"}, ""},
		{"sarif", map[string]string{"maxHigh": "1.5"}, `param maxHigh: "1.5" is not a whole number or "unlimited"`},
		{"sarif", map[string]string{"maxNotes": "-3"}, "param maxNotes: -3 is too small"},
		{"govulncheck", map[string]string{"failUnreachable": "true"}, ""},
		{"govulncheck", map[string]string{"failUnreachable": "yes"}, `param failUnreachable: "yes" is not true or false`},
		{"audit", map[string]string{"minReports": "3"}, ""},
		{"audit", map[string]string{"minReports": "0"}, "param minReports: 0 is too small"},
		{"k6", map[string]string{"maxP95Ms": "250", "maxP99Ms": "800", "maxFailRate": "0.02"}, ""},
		{"k6", map[string]string{"maxFailRate": "2"}, "param maxFailRate: 2 is out of range [0, 1]"},
		{"buildmatrix", map[string]string{"platforms": "linux/amd64,darwin/arm64"}, ""},
		{"document", map[string]string{"maxBytes": "1024"}, ""},
		{"document", map[string]string{"maxBytes": "99999999999"}, "may only lower the limit"},
		{"document", map[string]string{"version": "1"}, `unknown param "version"`},
		{"lint", nil, `unknown evidence check type "lint"`},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+strings.Join(keys(tc.params), ","), func(t *testing.T) {
			err := ValidateParams(tc.typ, tc.params)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("no error, want one containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func TestEvaluateRefusals(t *testing.T) {
	junit := readFixture(t, "junit/gotestsum-pass.xml")
	tests := []struct {
		name   string
		in     Input
		detail string
	}{
		{"unknown type", Input{Type: "lint", Files: []File{junit}}, "unknown evidence check type lint"},
		{"bad param", Input{Type: "junit", Params: map[string]string{"minPassRate": "x"}, Files: []File{junit}}, "param minPassRate"},
		{"no files", Input{Type: "junit"}, "no evidence files for junit check"},
		{"over the limit", Input{Type: "junit", Params: map[string]string{"maxBytes": "100"}, Files: []File{junit}},
			"testdata/junit/gotestsum-pass.xml: 1450 bytes is over the 100-byte evidence limit"},
		{"over the default limit", Input{Type: "document", Version: "1", Files: []File{{Name: "big.md", Data: make([]byte, DefaultMaxBytes+1)}}},
			"big.md: 52428801 bytes is over the 52428800-byte evidence limit"},
		{"empty file", Input{Type: "junit", Files: []File{{Name: "empty.xml"}}}, "empty.xml: no <testsuites> or <testsuite> element"},
		{"buildmatrix without platforms", Input{Type: "buildmatrix", Files: []File{{Name: "m.json", Data: []byte("[]")}}}, "needs the param platforms"},
		{"document without version", Input{Type: "document", Files: []File{{Name: "r.md", Data: []byte("v1")}}}, "needs the release version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(tc.in)
			if got.Outcome != Error || !strings.Contains(got.Detail, tc.detail) {
				t.Fatalf("got %s %q, want error containing %q", got.Outcome, got.Detail, tc.detail)
			}
		})
	}
}

// TestMalformedNeverPasses feeds every check type files that are not its format and checks
// the verdict is Error with the file named, never Pass.
func TestMalformedNeverPasses(t *testing.T) {
	bad := [][]byte{
		nil,
		[]byte("   \n"),
		[]byte("<html><body>502 Bad Gateway</body></html>"),
		[]byte("{\"message\": \"Not Found\"}"),
		[]byte("\x00\x01\x02garbage"),
		[]byte("[{\"platform\": 1}]"),
	}
	params := map[string]map[string]string{"buildmatrix": {"platforms": "linux/amd64"}}
	for _, typ := range Types() {
		for i, data := range bad {
			in := Input{Type: typ, Params: params[typ], Version: "1.4.0", Files: []File{{Name: "evidence/bad.file", Data: data}}}
			got := Evaluate(in)
			if got.Outcome == Pass {
				t.Errorf("%s on bad input %d passed: %s", typ, i, got.Detail)
			}
			if typ != "document" && (got.Outcome != Error || !strings.Contains(got.Detail, "evidence/bad.file")) {
				t.Errorf("%s on bad input %d: got %s %q, want an error naming the file", typ, i, got.Outcome, got.Detail)
			}
		}
	}
}

func TestEvaluateRecoversFromPanic(t *testing.T) {
	saved := checkTypes["document"]
	defer func() { checkTypes["document"] = saved }()
	checkTypes["document"] = checkType{params: documentParams, eval: func(Input, params) Result { panic("boom") }}
	got := Evaluate(Input{Type: "document", Version: "1", Files: []File{{Name: "a", Data: []byte("1")}}})
	if got.Outcome != Error || !strings.Contains(got.Detail, "boom") {
		t.Fatalf("got %+v, want an error result", got)
	}
}

func TestParamDocs(t *testing.T) {
	for _, typ := range Types() {
		docs := ParamDocs(typ)
		if _, ok := docs["maxBytes"]; !ok {
			t.Errorf("%s: maxBytes not documented", typ)
		}
		for name, doc := range docs {
			if doc == "" {
				t.Errorf("%s: param %s has no doc", typ, name)
			}
			if err := ValidateParams(typ, map[string]string{name: "1"}); err != nil && strings.Contains(err.Error(), "unknown param") {
				t.Errorf("%s: documented param %s is unknown to ValidateParams", typ, name)
			}
		}
	}
	if ParamDocs("nope") != nil {
		t.Error("ParamDocs of an unknown type should be nil")
	}
}
