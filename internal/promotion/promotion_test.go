package promotion

import (
	"strings"
	"testing"
	"time"
)

func at(t *testing.T, zone, local string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation(LocalLayout, local, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustSet(t *testing.T, r Rules) *Set {
	t.Helper()
	s, err := CompileRules(r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Office hours, Monday to Friday 09:00–16:00 in Berlin.
var officeHours = Window{Name: "office-hours", TZID: "Europe/Berlin", Start: "2026-01-05T09:00", Duration: "7h",
	RRule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}

var yearEnd = Window{Name: "year-end", TZID: "Europe/Berlin", From: "2026-12-18T00:00", Until: "2027-01-04T09:00"}

func TestFridayAfternoonWaitsForMonday(t *testing.T) {
	s := mustSet(t, Rules{Allow: []Window{officeHours}})
	p := Point{Traffic: true}
	if h := s.Check(at(t, "Europe/Berlin", "2026-03-13T15:59"), p, nil); h != nil {
		t.Fatalf("Friday 15:59 is inside office hours, held: %+v", h)
	}
	h := s.Check(at(t, "Europe/Berlin", "2026-03-13T16:00"), p, nil)
	if h == nil || h.Deny || h.Window != "office-hours" {
		t.Fatalf("Friday 16:00: %+v", h)
	}
	if want := at(t, "Europe/Berlin", "2026-03-16T09:00"); !h.Until.Equal(want) {
		t.Fatalf("until %s, want Monday 09:00 %s", h.Until, want)
	}
	if got := h.Text(); got != "held outside window `office-hours` until 2026-03-16 09:00 Europe/Berlin" {
		t.Fatalf("text %q", got)
	}
}

func TestYearEndFreezeCrossesTheYear(t *testing.T) {
	s := mustSet(t, Rules{Allow: []Window{officeHours}, Deny: []Window{yearEnd}})
	h := s.Check(at(t, "Europe/Berlin", "2026-12-22T11:00"), Point{Leave: "canary"}, nil)
	if h == nil || !h.Deny || h.Window != "year-end" {
		t.Fatalf("held %+v", h)
	}
	if got := h.Text(); got != "held by freeze `year-end` until 2027-01-04 09:00 Europe/Berlin" {
		t.Fatalf("text %q", got)
	}
	// The freeze ends on a Monday at 09:00, inside office hours: nothing else holds then.
	if h := s.Check(at(t, "Europe/Berlin", "2027-01-04T09:00"), Point{Leave: "canary"}, nil); h != nil {
		t.Fatalf("held after the freeze: %+v", h)
	}
	// Ending on a Saturday instead, the release waits on for office hours.
	sat := yearEnd
	sat.Until = "2027-01-02T12:00"
	s = mustSet(t, Rules{Allow: []Window{officeHours}, Deny: []Window{sat}})
	h = s.Check(at(t, "Europe/Berlin", "2026-12-31T23:59"), Point{Traffic: true}, nil)
	if h == nil || h.Window != "year-end" || !h.Until.Equal(at(t, "Europe/Berlin", "2027-01-04T09:00")) {
		t.Fatalf("held %+v", h)
	}
}

// Daylight saving: windows keep their wall-clock hours in two zones, on both changes, and a
// weekend freeze measured in nominal days ends at the same wall-clock hour.
func TestDaylightSavingChanges(t *testing.T) {
	for _, tc := range []struct {
		zone, spring, fall string // the Friday before each change
		springMon, fallMon string
	}{
		{"Europe/Berlin", "2026-03-27", "2026-10-23", "2026-03-30", "2026-10-26"},
		{"America/New_York", "2026-03-06", "2026-10-30", "2026-03-09", "2026-11-02"},
	} {
		w := officeHours
		w.TZID = tc.zone
		weekend := Window{Name: "weekend", TZID: tc.zone, Start: "2026-01-02T16:00", Duration: "2d17h", RRule: "FREQ=WEEKLY;BYDAY=FR"}
		s := mustSet(t, Rules{Allow: []Window{w}})
		d := mustSet(t, Rules{Deny: []Window{weekend}})
		for _, fri := range []string{tc.spring, tc.fall} {
			mon := tc.springMon
			if fri == tc.fall {
				mon = tc.fallMon
			}
			want := at(t, tc.zone, mon+"T09:00")
			for name, set := range map[string]*Set{"allow": s, "deny": d} {
				h := set.Check(at(t, tc.zone, fri+"T17:30"), Point{Traffic: true}, nil)
				if h == nil || !h.Until.Equal(want) {
					t.Fatalf("%s %s Friday %s: %+v, want until %s", tc.zone, name, fri, h, want)
				}
				if !strings.HasSuffix(h.Text(), mon+" 09:00 "+tc.zone) {
					t.Fatalf("%s: %s", tc.zone, h.Text())
				}
			}
		}
	}
	// The hour that does not exist (02:30 on the spring change in Berlin) and the one that
	// happens twice (02:30 on the autumn change): a nightly freeze from 02:00 for 2 h holds
	// through both, as RFC 5545 reads it: a start in the gap is taken with the offset before
	// the gap (02:00 CET = 03:00 CEST), and hours are exact (two real hours).
	night := Window{Name: "night", TZID: "Europe/Berlin", Start: "2026-01-01T02:00", Duration: "2h", RRule: "FREQ=DAILY"}
	s := mustSet(t, Rules{Deny: []Window{night}})
	spring := at(t, "Europe/Berlin", "2026-03-29T01:59").Add(2 * time.Minute) // 03:01 CEST
	if h := s.Check(spring, Point{Traffic: true}, nil); h == nil || !h.Until.Equal(time.Date(2026, 3, 29, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("spring forward: %+v", h)
	}
	// 02:00 CEST (00:00 UTC, the first 02:00) + 2 h = 03:00 CET: both 02:29s are inside.
	for _, fall := range []time.Time{
		at(t, "Europe/Berlin", "2026-10-25T01:59").Add(30 * time.Minute), // the first 02:29
		at(t, "Europe/Berlin", "2026-10-25T01:59").Add(90 * time.Minute), // the second 02:29
	} {
		h := s.Check(fall, Point{Traffic: true}, nil)
		if h == nil || !h.Until.Equal(time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC)) || !h.Key.Equal(time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("fall back at %s: %+v", fall.UTC(), h)
		}
	}
}

func TestScopesAndOverrides(t *testing.T) {
	canaryOnly := yearEnd
	canaryOnly.Stages = []string{"canary"}
	s := mustSet(t, Rules{Deny: []Window{canaryOnly}})
	now := at(t, "Europe/Berlin", "2026-12-20T10:00")
	if h := s.Check(now, Point{Traffic: true}, nil); h != nil {
		t.Fatalf("a canary-only freeze held a traffic increase: %+v", h)
	}
	h := s.Check(now, Point{Leave: "canary"}, nil)
	if h == nil {
		t.Fatal("not held leaving canary")
	}
	lifted := func(name string, key time.Time) bool { return name == h.Window && key.Equal(h.Key) }
	if h2 := s.Check(now, Point{Leave: "canary"}, lifted); h2 != nil {
		t.Fatalf("override did not let it through: %+v", h2)
	}
	// an override is for one occurrence: next year's is not lifted
	rec := Window{Name: "year-end", TZID: "Europe/Berlin", Start: "2026-12-18T00:00", Duration: "17d9h", RRule: "FREQ=YEARLY"}
	s = mustSet(t, Rules{Deny: []Window{rec}})
	h = s.Check(now, Point{Traffic: true}, nil)
	lifted = func(name string, key time.Time) bool { return name == h.Window && key.Equal(h.Key) }
	if s.Check(now, Point{Traffic: true}, lifted) != nil {
		t.Fatal("override did not lift this year's freeze")
	}
	if s.Check(now.AddDate(1, 0, 0), Point{Traffic: true}, lifted) == nil {
		t.Fatal("the override lifted next year's freeze too")
	}
}

func TestNoAllowedMomentWithinTheHorizon(t *testing.T) {
	always := Window{Name: "always", TZID: "UTC", Start: "2026-01-01T00:00", Duration: "1d", RRule: "FREQ=DAILY"}
	s := mustSet(t, Rules{Deny: []Window{always}})
	h := s.Check(at(t, "UTC", "2026-06-01T12:00"), Point{Traffic: true}, nil)
	if h == nil || !h.Until.IsZero() || !strings.Contains(h.Text(), "no allowed moment") {
		t.Fatalf("%+v", h)
	}
}

func TestCompileProblems(t *testing.T) {
	for _, tc := range []struct {
		w     Window
		field string
		says  string
	}{
		{Window{Name: "x", RRule: "FREQ=DAILY", Start: "2026-01-01T09:00", Duration: "1h"}, "tzid", "required"},
		{Window{Name: "x", TZID: "Mars/Olympus", RRule: "FREQ=DAILY", Start: "2026-01-01T09:00", Duration: "1h"}, "tzid", "unknown time zone"},
		{Window{Name: "x", TZID: "UTC", RRule: "FREQ=DAILIY", Start: "2026-01-01T09:00", Duration: "1h"}, "rrule", "not an RFC 5545"},
		{Window{Name: "x", TZID: "UTC", RRule: "FREQ=MINUTELY", Start: "2026-01-01T09:00", Duration: "1h"}, "rrule", "more often than hourly"},
		{Window{Name: "x", TZID: "UTC", RRule: "FREQ=DAILY;COUNT=2;UNTIL=20250101T000000", Start: "2026-01-01T09:00", Duration: "1h"}, "rrule", "no occurrence"},
		{Window{Name: "x", TZID: "UTC", RRule: "FREQ=DAILY", Start: "tomorrow", Duration: "1h"}, "start", "local date-time"},
		{Window{Name: "x", TZID: "UTC", RRule: "FREQ=DAILY", Start: "2026-01-01T09:00", Duration: "1 hour"}, "duration", "days, hours and minutes"},
		{Window{Name: "x", TZID: "UTC", RRule: "FREQ=DAILY", Start: "2026-01-01T09:00", Duration: "400d"}, "duration", "at most 366 days"},
		{Window{Name: "x", TZID: "UTC", From: "2027-01-04T09:00", Until: "2026-12-18T00:00"}, "until", "not after from"},
		{Window{Name: "x", TZID: "UTC", From: "2026-12-18T00:00", Until: "2027-01-04T09:00", RRule: "FREQ=DAILY"}, "rrule", "not both"},
		{Window{Name: "Year End", TZID: "UTC", From: "2026-12-18T00:00", Until: "2027-01-04T09:00"}, "name", "lower-case"},
	} {
		_, ps := Compile(tc.w)
		if len(ps) == 0 || ps[0].Field != tc.field || !strings.Contains(ps[0].Reason, tc.says) {
			t.Errorf("%+v: got %+v, want %s: …%s…", tc.w, ps, tc.field, tc.says)
		}
	}
}
