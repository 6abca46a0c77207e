package release

import (
	"errors"
	"strings"
	"testing"
)

const promotionYAML = `promotion:
  allow:
    - name: office-hours
      tzid: Europe/Berlin
      rrule: FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR
      start: 2026-01-05T09:00
      duration: 7h
      traffic: true
  deny:
    - name: year-end
      tzid: Europe/Berlin
      from: 2026-12-18T00:00
      until: 2027-01-04T09:00
`

// A production policy may add windows: they only hold, so the seed plus windows still meets
// every floor.
func TestProductionPolicyMayAddWindows(t *testing.T) {
	p, err := ParsePolicy("policy.yaml", append(DefaultPolicyYAML(), promotionYAML...), knownTypes)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Promotion.Allow) != 1 || len(p.Promotion.Deny) != 1 || len(p.BelowFloor()) != 0 {
		t.Fatalf("promotion %+v", p.Promotion)
	}
	seed, _ := DefaultPolicy(knownTypes)
	if seed.Digest() == p.Digest() {
		t.Fatal("windows do not change the policy's digest")
	}
}

func TestPromotionWindowErrorsNameFileLineFieldReason(t *testing.T) {
	seedLines := strings.Count(string(DefaultPolicyYAML()), "\n")
	for _, tc := range []struct {
		from, to string
		line     int // within promotionYAML, 1-based
		field    string
		reason   string
	}{
		{"FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=WEEKLY;BYDAY=MO,XX", 5, "promotion.allow[0].rrule", "not an RFC 5545 recurrence rule"},
		{"tzid: Europe/Berlin\n      from", "tzid: Europe/Berlinn\n      from", 11, "promotion.deny[0].tzid", `unknown time zone "Europe/Berlinn"`},
		{"until: 2027-01-04T09:00", "until: 2026-01-04T09:00", 13, "promotion.deny[0].until", "is not after from"},
		{"duration: 7h", "duration: 7 hours", 7, "promotion.allow[0].duration", "must be days, hours and minutes"},
		{"name: year-end", "name: office-hours", 10, "promotion.deny[0].name", "already defined at promotion.allow[0]"},
		{"      traffic: true\n", "      stages: [production]\n", 8, "promotion.allow[0].stages[0]", "production's traffic increases: traffic: true"},
	} {
		y := strings.Replace(promotionYAML, tc.from, tc.to, 1)
		_, err := ParsePolicy("policy.yaml", append(DefaultPolicyYAML(), y...), knownTypes)
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 {
			t.Fatalf("%s: want one error, got %v", tc.to, err)
		}
		e := es[0]
		if e.File != "policy.yaml" || e.Line != seedLines+tc.line || e.Field != tc.field || !strings.Contains(e.Reason, tc.reason) {
			t.Errorf("%s: got %s (line %d), want line %d %s: …%s…", tc.to, e, e.Line, seedLines+tc.line, tc.field, tc.reason)
		}
	}
}

func TestMayFreeze(t *testing.T) {
	p, err := DefaultPolicy(knownTypes)
	if err != nil {
		t.Fatal(err)
	}
	rm := p.Groups[p.Roles.ReleaseManagers].Members[0].ID
	if !p.MayFreeze(rm) {
		t.Fatalf("release manager %s may not freeze", rm)
	}
	if p.MayFreeze("nobody") {
		t.Fatal("a stranger may freeze")
	}
}
