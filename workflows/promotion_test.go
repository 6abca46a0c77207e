package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shipgate/shipgate/internal/promotion"
	"github.com/shipgate/shipgate/internal/release"
)

// officeHours allows traffic increases Monday to Friday, 09:00–16:00 in zone.
func officeHours(zone string) promotion.Window {
	return promotion.Window{Name: "office-hours", TZID: zone, Start: "2026-01-05T09:00", Duration: "7h",
		RRule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", Traffic: true}
}

// quickRollout: one-second soak and canary watch, bakes of bake each.
func quickRollout(bake time.Duration, r promotion.Rules) func(*release.Manifest, *release.Policy) {
	return func(m *release.Manifest, p *release.Policy) {
		devWindows(m, p)
		for i := range p.Rollout.Steps {
			p.Rollout.Steps[i].Bake = release.Duration(bake)
		}
		p.Promotion = r
	}
}

func local(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	v, err := time.ParseInLocation(promotion.LocalLayout, s, loc)
	require.NoError(t, err)
	return v
}

// trafficAt is when the release moved production traffic to percent.
func trafficAt(t *testing.T, st release.Status, percent float64) time.Time {
	t.Helper()
	for _, d := range st.Deployments {
		if d.Environment == "production" && d.Percent == percent {
			return d.At
		}
	}
	t.Fatalf("no production deployment at %g %%: %+v", percent, st.Deployments)
	return time.Time{}
}

func (h *harness) noticed(part string) bool {
	h.act.mu.Lock()
	defer h.act.mu.Unlock()
	for _, n := range h.act.notices {
		if strings.Contains(n.Text, part) {
			return true
		}
	}
	return false
}

// A rollout that reaches Friday 16:00 waits for Monday 09:00: on one durable timer, named with
// the hold, which status, the UI's details and Slack show; the bake it waits after keeps its
// length.
func TestFridayAfternoonWaitsForMonday(t *testing.T) {
	h := newHarness(t, quickRollout(3*time.Hour, promotion.Rules{Allow: []promotion.Window{officeHours("Europe/Berlin")}}))
	h.env.SetStartTime(local(t, "Europe/Berlin", "2026-03-13T10:00")) // a Friday
	h.approveEvery(time.Minute, 30*time.Minute)
	var saturday release.Status
	h.at(24*time.Hour, func() { saturday = h.status() })
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	st := h.status()

	// 5 % and 25 % went on Friday; 25 % baked 3 h, to about 13:35; 100 % waited for Monday.
	require.Equal(t, time.Friday, trafficAt(t, st, 25).Weekday())
	require.True(t, trafficAt(t, st, 100).Equal(local(t, "Europe/Berlin", "2026-03-16T09:00")), "100 %% at %s", trafficAt(t, st, 100))

	want := "held outside window `office-hours` until 2026-03-16 09:00 Europe/Berlin"
	require.NotNil(t, saturday.Hold)
	require.Equal(t, want, saturday.Hold.Text)
	require.Contains(t, saturday.WaitingFor, "traffic increase: "+want)
	require.Equal(t, release.StageProduction, saturday.Stage)
	require.Equal(t, release.WindowDone, saturday.Windows[len(saturday.Windows)-2].State, "the 25 % bake kept counting")
	require.True(t, h.noticed("payments 2.0.0 (traffic increase): "+want), "Slack was not told")
	require.Nil(t, st.Hold, "the hold is cleared once the release promotes")
}

// A deny window in the middle of a bake: the bake and its analysis keep counting through
// it; the next step waits for the window's end, to the minute.
func TestDenyWindowInTheMiddleOfABake(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	// the 5 % step starts after the 14 d soak and the 48 h canary watch, minutes after t0 + 16 d
	from, until := t0.Add(16*24*time.Hour+30*time.Minute), t0.Add(16*24*time.Hour+5*time.Hour)
	deny := promotion.Window{Name: "maintenance", TZID: "UTC", From: from.Format(promotion.LocalLayout), Until: until.Format(promotion.LocalLayout)}
	h := newHarness(t, func(m *release.Manifest, p *release.Policy) {
		withAnalysis("")(m, p)
		p.Promotion.Deny = []promotion.Window{deny}
	})
	h.env.SetStartTime(t0)
	h.approveEvery(time.Minute, 30*time.Minute)
	var callsIn [2]int
	var mid release.Status
	h.at(from.Add(time.Minute).Sub(t0), func() { callsIn[0] = h.act.calls })
	h.at(from.Add(25*time.Minute).Sub(t0), func() { callsIn[1] = h.act.calls })
	h.at(until.Add(-time.Hour).Sub(t0), func() { mid = h.status() })
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	st := h.status()

	five := st.Windows[2]
	require.Equal(t, "production-5", five.Name)
	require.True(t, five.StartedAt.Before(from), "the 5 %% step started before the window: %s", five.StartedAt)
	require.Equal(t, time.Hour, five.EndsAt.Sub(five.StartedAt), "the bake kept its length through the window")
	require.Greater(t, callsIn[1], callsIn[0], "the analysis kept measuring inside the window")
	require.True(t, trafficAt(t, st, 25).Equal(until), "25 %% at %s, want the window's end %s", trafficAt(t, st, 25), until)
	require.Equal(t, "held by freeze `maintenance` until "+promotion.Local(until, "UTC"), mid.Hold.Text)
	require.Equal(t, release.WindowDone, mid.Windows[2].State)
}

// Daylight saving: a rollout held over the weekend of a clock change resumes at 09:00 local
// on Monday, in two zones, on both changes.
func TestPromotionAcrossDaylightSavingChanges(t *testing.T) {
	for _, tc := range []struct{ zone, friday, monday string }{
		{"Europe/Berlin", "2026-03-27", "2026-03-30"},    // spring forward: CET → CEST
		{"Europe/Berlin", "2026-10-23", "2026-10-26"},    // fall back: CEST → CET
		{"America/New_York", "2026-03-06", "2026-03-09"}, // spring forward: EST → EDT
		{"America/New_York", "2026-10-30", "2026-11-02"}, // fall back: EDT → EST
	} {
		t.Run(tc.zone+"/"+tc.friday, func(t *testing.T) {
			h := newHarness(t, quickRollout(3*time.Hour, promotion.Rules{Allow: []promotion.Window{officeHours(tc.zone)}}))
			h.env.SetStartTime(local(t, tc.zone, tc.friday+"T10:00"))
			h.approveEvery(time.Minute, 30*time.Minute)
			res := h.run()
			require.Equal(t, release.StateSucceeded, res.State)
			st := h.status()
			got := trafficAt(t, st, 100)
			want := local(t, tc.zone, tc.monday+"T09:00")
			require.True(t, got.Equal(want), "100 %% at %s, want %s", got.UTC(), want.UTC())
			fri := local(t, tc.zone, tc.friday+"T09:00")
			_, offFri := fri.Zone()
			_, offMon := want.Zone()
			require.NotEqual(t, offFri, offMon, "the weekend did not cross a clock change")
		})
	}
}

// signedLine is a stop-the-line command signed by actor for the default policy's line, issued now.
func (h *harness) signedLine(action, actor, reason string) release.LineCommand {
	cmd := release.Command{Actor: actor, Channel: release.ChannelCLI, Reason: reason}
	h.sign(action, &cmd, release.Binding{Release: release.LineID(release.DefaultPolicyName)})
	return release.LineCommand{Action: action, Command: cmd}
}

// A freeze during the canary holds its promotion; a rollback meanwhile is immediate; forged
// and unauthorised line commands change nothing.
func TestFreezeDuringCanaryRollbackStillImmediate(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	canary := 14*24*time.Hour + time.Hour // inside the 24 h canary watch
	var frozen, held release.Status
	h.at(canary, func() {
		h.env.SignalWorkflow(release.SignalLine, h.signedLine(release.ActionFreeze, "oc-cy", "incident 42: payments latency"))
		forged := h.signedLine(release.ActionUnfreeze, "oc-cy", "forged")
		forged.Command.Reason = "changed after signing"
		h.env.SignalWorkflow(release.SignalLine, forged)
		h.env.SignalWorkflow(release.SignalLine, h.signedLine(release.ActionUnfreeze, "bob", "not a freezer"))
	})
	h.at(canary+time.Minute, func() { frozen = h.status() })
	// the watch ends 24 h in; two days later the release is still held, then rolled back
	h.at(canary+48*time.Hour, func() {
		held = h.status()
		h.signal(release.SignalRollback, release.Command{Actor: "oc-cy", Reason: "incident 42 is ours"})
	})
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateRolledBack, res.State)
	st := h.status()

	require.NotNil(t, frozen.Line)
	require.True(t, frozen.Line.Frozen)
	require.Equal(t, "oc-cy", frozen.Line.By)
	require.True(t, h.auditHas(frozen, release.ActionFreeze, "", true, "incident 42"))
	require.True(t, h.auditHas(frozen, release.ActionUnfreeze, "", false, "the signature does not match"))
	require.True(t, h.auditHas(frozen, release.ActionUnfreeze, "", false, "bob may not stop or restart the line"))

	require.Equal(t, release.StageCanary, held.Stage)
	require.NotNil(t, held.Hold)
	require.Equal(t, release.HoldLine, held.Hold.Kind)
	require.Contains(t, held.Hold.Text, "held by stop-the-line (frozen by oc-cy")
	require.Contains(t, held.WaitingFor, "leaving canary: "+held.Hold.Text)

	// the way back did not wait: traffic returned the moment the rollback came
	last := st.Deployments[len(st.Deployments)-1]
	require.Equal(t, 0.0, st.TrafficPercent)
	require.True(t, start.Add(canary+48*time.Hour).Equal(last.At), "traffic returned at %s", last.At)
	require.Equal(t, []string{"staging:100", "testnet:100", "production:5", "production:0"}, h.act.percents())
	require.Nil(t, st.Hold, "a stopped release shows no hold")
}

// A stopped line holds a new release before anything runs, until it is restarted; a replay of
// the freeze afterwards changes nothing.
func TestStoppedLineHoldsNewReleases(t *testing.T) {
	h := newHarness(t, quickRollout(time.Second, promotion.Rules{}))
	freeze := h.signedLine(release.ActionFreeze, "rm-ada", "year-end change freeze")
	h.line = &freeze
	h.approveEvery(10*time.Minute, 5*time.Hour)
	var held release.Status
	h.at(time.Hour, func() { held = h.status() })
	h.at(2*time.Hour, func() {
		h.env.SignalWorkflow(release.SignalLine, h.signedLine(release.ActionUnfreeze, "rm-bo", "freeze over"))
	})
	h.at(3*time.Hour, func() { h.env.SignalWorkflow(release.SignalLine, freeze) }) // replayed
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	require.Len(t, h.act.joined, 1)
	require.Equal(t, release.JoinLineRequest{Policy: "default", Release: h.in.Manifest.ID()}, h.act.joined[0])
	require.Equal(t, []string{h.in.Manifest.ID()}, h.act.left, "the ended release left its line")
	require.Equal(t, release.StageDevelopment, held.Stage)
	require.Equal(t, release.GatePending, held.Gates[0].State, "no gate ran while the line was stopped")
	require.Equal(t, "start", held.Hold.Point.Leave)
	st := h.status()
	require.False(t, st.Line.Frozen)
	require.GreaterOrEqual(t, st.Deployments[0].At.Sub(start), 2*time.Hour)
}

// Two release managers, neither the author, with reasons, let one release through one window
// occurrence; the author, one alone, a wrong window, and a missing reason do not.
func TestOverrideByTwoReleaseManagers(t *testing.T) {
	h := newHarness(t, func(m *release.Manifest, p *release.Policy) {
		quickRollout(3*time.Hour, promotion.Rules{Allow: []promotion.Window{officeHours("Europe/Berlin")}})(m, p)
		m.Author = "rm-bo" // a release manager who wrote the change
		g := p.Groups[p.Roles.ReleaseManagers]
		key, err := testKeys.AuthorizedKey("rm-cat")
		require.NoError(t, err)
		g.Members = append(g.Members, release.Member{ID: "rm-cat", SSHKeys: []string{key}})
		p.Groups[p.Roles.ReleaseManagers] = g
	})
	h.env.SetStartTime(local(t, "Europe/Berlin", "2026-03-13T10:00"))
	h.approveEvery(time.Minute, 30*time.Minute)
	saturday := 24 * time.Hour
	h.at(saturday, func() {
		h.signal(release.SignalOverride, release.Command{Actor: "rm-bo", Window: "office-hours", Reason: "mine"})
		h.signal(release.SignalOverride, release.Command{Actor: "rm-ada", Window: "year-end", Reason: "wrong window"})
		h.signal(release.SignalOverride, release.Command{Actor: "rm-ada", Window: "office-hours"})
		h.signal(release.SignalOverride, release.Command{Actor: "oc-cy", Window: "office-hours", Reason: "not a release manager"})
		h.signal(release.SignalOverride, release.Command{Actor: "rm-ada", Window: "office-hours", Reason: "customer launch on Saturday"})
	})
	var one release.Status
	h.at(saturday+time.Hour, func() {
		one = h.status()
		h.signal(release.SignalOverride, release.Command{Actor: "rm-cat", Window: "office-hours", Reason: "agreed: launch"})
	})
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	require.True(t, h.auditHas(one, release.SignalOverride, "office-hours", false, "rm-bo is the author"))
	require.True(t, h.auditHas(one, release.SignalOverride, "year-end", false, "does not hold the release"))
	require.True(t, h.auditHas(one, release.SignalOverride, "office-hours", false, "needs a reason"))
	require.True(t, h.auditHas(one, release.SignalOverride, "office-hours", false, "only release managers"))
	require.True(t, h.auditHas(one, release.SignalOverride, "office-hours", true, "1 of 2"))
	require.NotNil(t, one.Hold, "one release manager alone lets nothing through")
	require.Len(t, one.Overrides, 1)

	st := h.status()
	require.True(t, h.auditHas(st, release.SignalOverride, "office-hours", true, "2 of 2"))
	// through this window occurrence on Saturday, the moment the second agreed
	require.True(t, trafficAt(t, st, 100).Equal(local(t, "Europe/Berlin", "2026-03-14T11:00")), "100 %% at %s", trafficAt(t, st, 100))
	require.Len(t, st.Overrides, 2)
	require.True(t, h.noticed("rm-ada and rm-cat let the release through window office-hours"))
}

// The year-end freeze of the issue, across the new year: leaving the canary waits for
// 2027-01-04 09:00 in Berlin, and says so in the words the issue asks for.
func TestYearEndFreezeAcrossTheNewYear(t *testing.T) {
	yearEnd := promotion.Window{Name: "year-end", TZID: "Europe/Berlin", From: "2026-12-18T00:00", Until: "2027-01-04T09:00", Stages: []string{"canary"}}
	h := newHarness(t, quickRollout(time.Hour, promotion.Rules{Deny: []promotion.Window{yearEnd}}))
	h.env.SetStartTime(local(t, "Europe/Berlin", "2026-12-21T10:00"))
	h.approveEvery(time.Minute, 30*time.Minute)
	var newYear release.Status
	h.at(11*24*time.Hour, func() { newYear = h.status() }) // 2027-01-01
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	require.Equal(t, "held by freeze `year-end` until 2027-01-04 09:00 Europe/Berlin", newYear.Hold.Text)
	require.Equal(t, release.StageCanary, newYear.Stage)
	require.Equal(t, "canary", newYear.Hold.Point.Leave)
	st := h.status()
	var prod []release.Deployment
	for _, d := range st.Deployments {
		if d.Environment == "production" {
			prod = append(prod, d)
		}
	}
	require.Len(t, prod, 4) // canary 5 %, then 5, 25, 100
	// the canary's own traffic went in 2026 (the freeze holds only leaving the canary); the
	// first production step waited for the freeze's end
	require.Equal(t, 2026, prod[0].At.Year())
	require.True(t, prod[1].At.Equal(local(t, "Europe/Berlin", "2027-01-04T09:00")), "first step at %s", prod[1].At)
}
