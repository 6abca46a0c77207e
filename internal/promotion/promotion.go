// Package promotion decides when a release may promote: the policy's promotion windows, each
// a calendar rule in RFC 5545 form (an RRULE with a DTSTART in a time zone, or a one-time
// range), allow promotion only inside the allow windows that apply and never inside a deny
// window that applies. Given a moment it answers with the next allowed moment, so the workflow
// waits on one durable timer instead of polling. Pure: no clock, no I/O but the time zone
// database (embedded, so every worker answers alike).
package promotion

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	// The zone database travels with the binary: a worker without /usr/share/zoneinfo still
	// knows Europe/Berlin.
	_ "time/tzdata"
)

// Rules are a policy's promotion windows.
type Rules struct {
	// Allow windows: when any applies to a promotion, it happens only inside one of them.
	Allow []Window `yaml:"allow,omitempty" json:"allow,omitempty"`
	// Deny windows (freezes): a promotion never happens inside one that applies.
	Deny []Window `yaml:"deny,omitempty" json:"deny,omitempty"`
}

// Window is one calendar rule: either recurring (RRule from Start, each occurrence lasting
// Duration) or one-time (From until Until), in the time zone TZID.
type Window struct {
	Name string `yaml:"name" json:"name"`
	// TZID is an IANA time zone (Europe/Berlin): Start, From, Until and the rule's hours are
	// wall-clock times there, daylight saving included.
	TZID string `yaml:"tzid" json:"tzid"`
	// RRule is an RFC 5545 recurrence rule without DTSTART, e.g.
	// FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0;BYSECOND=0.
	RRule string `yaml:"rrule,omitempty" json:"rrule,omitempty"`
	// Start is the rule's DTSTART, a local date-time (2026-01-05T09:00).
	Start string `yaml:"start,omitempty" json:"start,omitempty"`
	// Duration is how long each occurrence lasts: hours and minutes exact ("7h", "30m"), days
	// nominal ("2d17h": two calendar days, then 17 hours), as RFC 5545 durations are.
	Duration string `yaml:"duration,omitempty" json:"duration,omitempty"`
	// From and Until bound a one-time window, local date-times.
	From  string `yaml:"from,omitempty" json:"from,omitempty"`
	Until string `yaml:"until,omitempty" json:"until,omitempty"`
	// Stages: the window holds leaving these stages; Traffic: it holds every production
	// traffic increase. Neither: it holds every promotion.
	Stages  []string `yaml:"stages,omitempty" json:"stages,omitempty"`
	Traffic bool     `yaml:"traffic,omitempty" json:"traffic,omitempty"`
}

// Limits of a window: a freeze or an allowed period longer than a year is a mistake, and
// rules recurring more often than hourly would make every evaluation walk thousands of
// occurrences.
const (
	MaxLength = 366 * 24 * time.Hour
	// Horizon is how far ahead the next allowed moment is looked for; past it a release is
	// held until a person lets it through (override) or the policy changes.
	Horizon  = 400 * 24 * time.Hour
	maxSteps = 1000
)

// LocalLayout is the form of Start, From and Until.
const LocalLayout = "2006-01-02T15:04"

// Problem is one thing wrong with a window: the field (rrule, tzid, …) and why.
type Problem struct {
	Field  string
	Reason string
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Compiled is a window ready to evaluate.
type Compiled struct {
	Window
	loc   *time.Location
	rule  *rrule.RRule
	days  int
	exact time.Duration
	from  time.Time
	until time.Time
}

// Compile checks a window and prepares it; every problem found is returned.
func Compile(w Window) (*Compiled, []Problem) {
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	c := &Compiled{Window: w}
	if !nameRE.MatchString(w.Name) {
		bad("name", "must be lower-case letters, digits and dashes (got %q)", clip(w.Name))
	}
	loc, err := loadZone(w.TZID)
	if err != nil {
		bad("tzid", "%v", err)
		return c, ps
	}
	c.loc = loc
	recurring := w.RRule != "" || w.Start != "" || w.Duration != ""
	oneTime := w.From != "" || w.Until != ""
	switch {
	case recurring && oneTime:
		bad("rrule", "a window is either recurring (rrule, start, duration) or one-time (from, until), not both")
	case recurring:
		c.compileRecurring(bad)
	case oneTime:
		c.compileOneTime(bad)
	default:
		bad("rrule", "is required: a recurring window (rrule, start, duration) or a one-time one (from, until)")
	}
	return c, ps
}

func loadZone(tzid string) (*time.Location, error) {
	switch {
	case tzid == "":
		return nil, errors.New("is required: an IANA time zone such as Europe/Berlin or UTC")
	case tzid == "Local" || strings.Contains(tzid, "..") || strings.HasPrefix(tzid, "/"):
		return nil, fmt.Errorf("%q is not an IANA time zone name", clip(tzid))
	}
	loc, err := time.LoadLocation(tzid)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as Europe/Berlin)", clip(tzid))
	}
	return loc, nil
}

func (c *Compiled) compileRecurring(bad func(string, string, ...any)) {
	w := c.Window
	start, err := time.ParseInLocation(LocalLayout, w.Start, c.loc)
	if err != nil {
		bad("start", "must be a local date-time such as 2026-01-05T09:00 (got %q)", clip(w.Start))
	}
	c.days, c.exact, err = parseDuration(w.Duration)
	if err != nil {
		bad("duration", "%v", err)
	} else if l := c.length(start); l <= 0 || l > MaxLength {
		bad("duration", "%s: each occurrence must last more than 0 and at most 366 days", w.Duration)
	}
	if w.RRule == "" {
		bad("rrule", "is required for a recurring window (e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR)")
		return
	}
	if strings.ContainsAny(w.RRule, "\n\r") || strings.Contains(strings.ToUpper(w.RRule), "DTSTART") {
		bad("rrule", "one RRULE line without DTSTART: the window's start and tzid give it")
		return
	}
	opt, err := rrule.StrToROptionInLocation(strings.TrimPrefix(w.RRule, "RRULE:"), c.loc)
	if err != nil {
		bad("rrule", "not an RFC 5545 recurrence rule: %s", clip(err.Error()))
		return
	}
	if opt.Freq > rrule.HOURLY {
		bad("rrule", "FREQ=%s recurs more often than hourly: a promotion window is hours or days long", opt.Freq)
		return
	}
	if opt.Interval < 0 || opt.Count < 0 || opt.Interval > 1000 || opt.Count > 100000 {
		bad("rrule", "INTERVAL and COUNT must be small positive numbers")
		return
	}
	if start.IsZero() {
		return
	}
	opt.Dtstart = start
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		bad("rrule", "%s", clip(err.Error()))
		return
	}
	if r.After(start, true).IsZero() {
		bad("rrule", "has no occurrence at or after its start %s", w.Start)
		return
	}
	c.rule = r
}

func (c *Compiled) compileOneTime(bad func(string, string, ...any)) {
	w := c.Window
	var err error
	if c.from, err = time.ParseInLocation(LocalLayout, w.From, c.loc); err != nil {
		bad("from", "must be a local date-time such as 2026-12-18T00:00 (got %q)", clip(w.From))
	}
	if c.until, err = time.ParseInLocation(LocalLayout, w.Until, c.loc); err != nil {
		bad("until", "must be a local date-time such as 2027-01-04T09:00 (got %q)", clip(w.Until))
		return
	}
	if !c.from.IsZero() && !c.until.After(c.from) {
		bad("until", "%s is not after from %s", w.Until, w.From)
	} else if !c.from.IsZero() && c.until.Sub(c.from) > MaxLength {
		bad("until", "the window lasts more than 366 days")
	}
}

var durationRE = regexp.MustCompile(`^(?:(\d{1,3})d)?(?:(\d{1,4})h)?(?:(\d{1,5})m)?$`)

// parseDuration reads "2d17h30m": days nominal (calendar days in the window's zone), hours and
// minutes exact.
func parseDuration(s string) (days int, exact time.Duration, err error) {
	m := durationRE.FindStringSubmatch(s)
	if s == "" || m == nil {
		return 0, 0, fmt.Errorf("must be days, hours and minutes such as 7h, 30m or 2d17h (got %q)", clip(s))
	}
	n := func(x string) int { v, _ := strconv.Atoi(x); return v }
	return n(m[1]), time.Duration(n(m[2]))*time.Hour + time.Duration(n(m[3]))*time.Minute, nil
}

// length is how long the occurrence starting at start lasts.
func (c *Compiled) length(start time.Time) time.Duration {
	return c.end(start).Sub(start)
}

func (c *Compiled) end(start time.Time) time.Time {
	if c.days > 0 {
		// calendar days: the same wall-clock time days later (AddDate would otherwise pick
		// either instant of an ambiguous one)
		start = firstInstant(start.AddDate(0, 0, c.days))
	}
	return start.Add(c.exact)
}

// containing returns the occurrence of the window that contains t: [from, until).
func (c *Compiled) containing(t time.Time) (from, until time.Time, ok bool) {
	if c.rule == nil {
		return c.from, c.until, !t.Before(c.from) && t.Before(c.until)
	}
	if s := c.rule.Before(t.In(c.loc), true); !s.IsZero() {
		s = firstInstant(s)
		if e := c.end(s); t.Before(e) {
			return s, e, true
		}
	}
	// an occurrence at an ambiguous wall-clock time starts at its first instant, which may
	// lie before t although the library's instant lies after it
	if n := c.rule.After(t.In(c.loc), false); !n.IsZero() {
		if n = firstInstant(n); !n.After(t) {
			return n, c.end(n), true
		}
	}
	return time.Time{}, time.Time{}, false
}

// next returns the start of the first occurrence after t (zero: none).
func (c *Compiled) next(t time.Time) time.Time {
	if c.rule == nil {
		if c.from.After(t) {
			return c.from
		}
		return time.Time{}
	}
	n := c.rule.After(t.In(c.loc), false)
	if n.IsZero() {
		return n
	}
	return firstInstant(n)
}

// firstInstant is the first of the instants a wall-clock time names: on the night clocks go
// back, 02:30 happens twice and RFC 5545 takes the first (Go's time.Date may give either).
func firstInstant(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	for _, back := range []time.Duration{2 * time.Hour, time.Hour, 30 * time.Minute} {
		e := t.Add(-back)
		ey, emo, ed := e.Date()
		eh, emi, es := e.Clock()
		if ey == y && emo == mo && ed == d && eh == h && emi == mi && es == s {
			return e
		}
	}
	return t
}

// Applies reports whether the window holds promotion point p.
func (c *Compiled) Applies(p Point) bool {
	if len(c.Stages) == 0 && !c.Traffic {
		return true
	}
	return (c.Traffic && p.Traffic) || (p.Leave != "" && slices.Contains(c.Stages, p.Leave))
}

// Point is a moment where a release promotes: leaving a stage, or a traffic increase.
type Point struct {
	Leave   string `json:"leave,omitempty"`
	Traffic bool   `json:"traffic,omitempty"`
}

func (p Point) String() string {
	if p.Traffic {
		return "traffic increase"
	}
	return "leaving " + p.Leave
}

// Hold says a promotion must wait: which window holds it now and the next allowed moment.
type Hold struct {
	// Window is the name of the window that holds the release now.
	Window string `json:"window"`
	// Deny: inside a deny window; otherwise outside every allow window that applies.
	Deny bool `json:"deny"`
	// Key identifies the occurrence that holds (a deny occurrence's start; for allow windows,
	// the end of the closed gap): an override lets the release through this one only.
	Key time.Time `json:"key"`
	// Until is the next allowed moment; zero when there is none within Horizon.
	Until time.Time `json:"until,omitzero"`
	// Zone is the holding window's TZID, Until is shown there.
	Zone string `json:"zone"`
}

// Text is the hold in words: "held by freeze `year-end` until 2027-01-04 09:00 Europe/Berlin".
func (h Hold) Text() string {
	what := fmt.Sprintf("held by freeze `%s`", h.Window)
	if !h.Deny {
		what = fmt.Sprintf("held outside window `%s`", h.Window)
	}
	if h.Until.IsZero() {
		return what + fmt.Sprintf(" with no allowed moment within %d days (two release managers may override)", int(Horizon.Hours()/24))
	}
	return what + " until " + Local(h.Until, h.Zone)
}

// Local formats t as a wall-clock time in zone: "2027-01-04 09:00 Europe/Berlin".
func Local(t time.Time, zone string) string {
	if loc, err := time.LoadLocation(zone); err == nil {
		t = t.In(loc)
	}
	return t.Format("2006-01-02 15:04") + " " + zone
}

// Set is a policy's compiled windows.
type Set struct {
	allow, deny []*Compiled
}

// CompileRules compiles every window; it fails on the first invalid one (validation reports
// them all, with lines, before a policy is ever used).
func CompileRules(r Rules) (*Set, error) {
	s := &Set{}
	for i, w := range r.Allow {
		c, ps := Compile(w)
		if len(ps) > 0 {
			return nil, fmt.Errorf("promotion.allow[%d].%s: %s", i, ps[0].Field, ps[0].Reason)
		}
		s.allow = append(s.allow, c)
	}
	for i, w := range r.Deny {
		c, ps := Compile(w)
		if len(ps) > 0 {
			return nil, fmt.Errorf("promotion.deny[%d].%s: %s", i, ps[0].Field, ps[0].Reason)
		}
		s.deny = append(s.deny, c)
	}
	return s, nil
}

// Empty reports whether no window is defined.
func (s *Set) Empty() bool { return len(s.allow) == 0 && len(s.deny) == 0 }

// Lifted reports whether an override lets the release through the named window's occurrence
// identified by key.
type Lifted func(window string, key time.Time) bool

// Check answers whether point p may promote at now: nil when it may, otherwise the window that
// holds it and the next allowed moment (the first moment inside an applicable allow window, if
// any, and inside no applicable deny window, overrides considered).
func (s *Set) Check(now time.Time, p Point, lifted Lifted) *Hold {
	if lifted == nil {
		lifted = func(string, time.Time) bool { return false }
	}
	var allow, deny []*Compiled
	for _, c := range s.allow {
		if c.Applies(p) {
			allow = append(allow, c)
		}
	}
	for _, c := range s.deny {
		if c.Applies(p) {
			deny = append(deny, c)
		}
	}
	var first *Hold
	t := now
	for range maxSteps {
		h, next := step(t, allow, deny, lifted)
		if h == nil {
			if first != nil {
				first.Until = t
			}
			return first
		}
		if first == nil {
			first = h
		}
		if next.IsZero() || next.Sub(now) > Horizon {
			first.Until = time.Time{}
			return first
		}
		t = next
	}
	first.Until = time.Time{}
	return first
}

// step looks at one moment: nil when promotion may happen at t, otherwise what holds it and
// the moment to look at next.
func step(t time.Time, allow, deny []*Compiled, lifted Lifted) (*Hold, time.Time) {
	for _, c := range deny {
		from, until, ok := c.containing(t)
		if ok && !lifted(c.Name, from.UTC()) {
			return &Hold{Window: c.Name, Deny: true, Key: from.UTC(), Zone: c.TZID}, until
		}
	}
	if len(allow) == 0 {
		return nil, time.Time{}
	}
	var next time.Time
	var by *Compiled
	for _, c := range allow {
		if _, _, ok := c.containing(t); ok {
			return nil, time.Time{}
		}
		if n := c.next(t); !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next, by = n, c
		}
	}
	if by == nil {
		by = allow[0]
	}
	key := next.UTC()
	for _, c := range allow {
		if lifted(c.Name, key) {
			return nil, time.Time{}
		}
	}
	return &Hold{Window: by.Name, Key: key, Zone: by.TZID}, next
}

func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
