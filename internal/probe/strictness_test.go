package probe

import (
	"strings"
	"testing"
)

func TestAtLeastAsStrict(t *testing.T) {
	q := "up{a=\"1\"}\nup{b=\"2\"}\n"
	cases := []struct {
		typ, param, seed, got string
		want                  string // empty: at least as strict
	}{
		{TypeQuery, "max", "2", "1.5", ""},
		{TypeQuery, "max", "2", "3", "3 is above the seed's 2 (a lower max is stricter)"},
		{TypeQuery, "max", "2", "", "unset (no limit) is above the seed's 2"},
		{TypeQuery, "min", "1", "0.5", "0.5 is below the seed's 1"},
		{TypeQuery, "min", "", "1", ""},
		{TypeQuery, "query", "sum(x)", "sum(x) * 0", "differs from the seed's sum(x)"},
		{TypeSeries, "queries", q, "up{b=\"2\"}\n  up{a=\"1\"}\nup{c=\"3\"}", ""},
		{TypeSeries, "queries", q, "up{a=\"1\"}", `leaves out the seed's up{b="2"}`},
		{TypeRules, "labels", "service={{.Service}}", "service=x", "differs"},
		{TypeRules, "names", "A,B", "B, A, C", ""},
		{TypeHTTP, "url", "https://a/x", "https://a/x", ""},
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
