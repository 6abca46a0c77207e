package evidence

import (
	"strings"
	"testing"
)

// Every param of the catalogue says which way it is stricter, and its default is valid.
func TestEveryParamIsOrdered(t *testing.T) {
	for _, typ := range Types() {
		for name, spec := range checkTypes[typ].params {
			if spec.stricter == undeclared {
				t.Errorf("%s param %s: no stricter direction", typ, name)
			}
			if _, err := spec.value(name, ""); err != nil {
				t.Errorf("%s param %s: default %q: %v", typ, name, spec.def, err)
			}
		}
	}
	for name, spec := range commonParams {
		if spec.stricter == undeclared {
			t.Errorf("common param %s: no stricter direction", name)
		}
	}
}

func TestAtLeastAsStrict(t *testing.T) {
	cases := []struct {
		typ, param, seed, got string
		want                  string // empty: at least as strict
	}{
		{"coverage", "min", "80", "85", ""},
		{"coverage", "min", "80", "80%", ""},
		{"coverage", "min", "80", "79.9", "79.9 is below the seed's 80 (a higher min is stricter)"},
		{"coverage", "min", "90", "", "unset (default 80) is below the seed's 90"},
		{"coverage", "format", "lcov", "gocover", ""},
		{"junit", "minPassRate", "100", "99", "99 is below"},
		{"junit", "reports", "chromium,firefox", "firefox, chromium, webkit", ""},
		{"junit", "reports", "chromium,firefox,webkit", "chromium", "chromium leaves out the seed's firefox, webkit"},
		{"sarif", "maxWarnings", "0", "1", "1 is above the seed's 0 (a lower maxWarnings is stricter)"},
		{"sarif", "maxCritical", "", "", ""},
		{"sarif", "maxCritical", "", "unlimited", "unlimited is above the seed's unset (default 0)"},
		{"sarif", "maxNotes", "5", "", "unset (default unlimited) is above the seed's 5"},
		{"sarif", "maxNotes", "", "5", ""},
		{"k6", "maxP95Ms", "300", "250", ""},
		{"k6", "maxP95Ms", "300", "", "unset (no limit) is above the seed's 300"},
		{"k6", "maxFailRate", "0.01", "0.02", "0.02 is above"},
		{"k6", "maxFailRate", "0.01", "", ""},
		{"audit", "minReports", "2", "1", "1 is below the seed's 2"},
		{"audit", "minReports", "2", "3", ""},
		{"govulncheck", "failUnreachable", "true", "false", "false is below the seed's true"},
		{"govulncheck", "failUnreachable", "", "true", ""},
		{"buildmatrix", "platforms", "linux/amd64,linux/arm64", "linux/arm64,darwin/arm64,linux/amd64", ""},
		{"buildmatrix", "platforms", "linux/amd64,linux/arm64", "linux/amd64", "leaves out the seed's linux/arm64"},
		{"coverage", "maxBytes", "1000", "", ""},
		{"coverage", "nope", "", "1", `unknown param "nope"`},
	}
	for _, c := range cases {
		err := AtLeastAsStrict(c.typ, c.param, c.seed, c.got)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %s %q → %q: %v", c.typ, c.param, c.seed, c.got, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %s %q → %q: got %v, want %q", c.typ, c.param, c.seed, c.got, err, c.want)
		}
	}
}

func TestSARIFToolsFloor(t *testing.T) {
	seed := "staticcheck,golangci-lint"
	for got, ok := range map[string]bool{"staticcheck": true, "staticcheck,golangci-lint": true, "": false, "staticcheck,revive": false} {
		err := AtLeastAsStrict("sarif", "tools", seed, got)
		if (err == nil) != ok {
			t.Errorf("tools %q against the seed's %q: %v", got, seed, err)
		}
	}
	if err := AtLeastAsStrict("sarif", "tools", "", "anything"); err != nil {
		t.Errorf("a seed without tools accepts any list: %v", err)
	}
}
