package checks

import (
	"strings"
	"testing"

	"github.com/shipgate/shipgate/internal/release"
)

func TestDefaultPolicyValidatesAgainstTheRealCatalogue(t *testing.T) {
	if _, err := release.DefaultPolicy(Validate); err != nil {
		t.Fatalf("the default policy names a check the worker cannot evaluate: %v", err)
	}
}

func TestUnknownTypesAndParamsFail(t *testing.T) {
	cases := []struct {
		kind   release.CheckKind
		typ    string
		params map[string]string
		want   string
	}{
		{release.KindEvidence, "junitt", nil, "unknown evidence check type"},
		{release.KindEvidence, "coverage", map[string]string{"minimum": "80"}, "minimum"},
		{release.KindEvidence, "coverage", map[string]string{"min": "eighty"}, "min"},
		{release.KindProbe, "nope", nil, `probe: unknown check type "nope"`},
		{release.KindSignoff, "junit", nil, "takes no type"},
	}
	for _, c := range cases {
		err := Validate(c.kind, c.typ, c.params)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s %v: got %v, want %q", c.kind, c.typ, c.params, err, c.want)
		}
	}
}
