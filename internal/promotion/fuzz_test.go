package promotion

import (
	"testing"
	"time"
)

// Whatever window compiles, evaluating it never panics, and the next allowed moment it names
// is later than now and is allowed.
func FuzzWindow(f *testing.F) {
	f.Add("Europe/Berlin", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "2026-01-05T09:00", "7h", "", "", int64(0))
	f.Add("America/New_York", "FREQ=WEEKLY;BYDAY=FR", "2026-01-02T16:00", "2d17h", "", "", int64(86400*70))
	f.Add("Europe/Berlin", "", "", "", "2026-12-18T00:00", "2027-01-04T09:00", int64(86400*350))
	f.Add("UTC", "FREQ=DAILY;INTERVAL=2;COUNT=3", "2026-01-01T02:00", "2h", "", "", int64(3600*49))
	f.Add("Australia/Lord_Howe", "FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=1,2", "2026-01-01T01:30", "45m", "", "", int64(86400*93))
	f.Add("Mars/Olympus", "FREQ=YEARLY", "x", "1d", "", "", int64(0))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, tzid, rule, start, dur, from, until string, offset int64) {
		w := Window{Name: "w", TZID: tzid, RRule: rule, Start: start, Duration: dur, From: from, Until: until}
		c, ps := Compile(w)
		if len(ps) > 0 {
			for _, p := range ps {
				if p.Field == "" || p.Reason == "" {
					t.Fatalf("problem without field or reason: %+v", p)
				}
			}
			return
		}
		now := base.Add(time.Duration(offset%(int64(3*365*24*3600))) * time.Second)
		for _, r := range []Rules{{Allow: []Window{c.Window}}, {Deny: []Window{c.Window}}} {
			s, err := CompileRules(r)
			if err != nil {
				t.Fatalf("compiled alone, not in a set: %v", err)
			}
			h := s.Check(now, Point{Traffic: true}, nil)
			if h == nil || h.Until.IsZero() {
				continue
			}
			if !h.Until.After(now) {
				t.Fatalf("held at %s until %s, not later", now, h.Until)
			}
			if h2 := s.Check(h.Until, Point{Traffic: true}, nil); h2 != nil {
				t.Fatalf("the next allowed moment %s is held: %+v", h.Until, h2)
			}
		}
	})
}
