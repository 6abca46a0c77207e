package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shipgate/shipgate/internal/release"
)

// SignoffMessage records the message and answers as Slack would: a first post gets a ts,
// updates keep theirs.
func (f *fakeActivities) SignoffMessage(_ context.Context, m release.SignoffMessage) (release.SignoffPosted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signoffs = append(f.signoffs, m)
	if m.TS == "" {
		return release.SignoffPosted{Channel: "C0TEST", TS: "ts:" + m.Key}, nil
	}
	return release.SignoffPosted{Channel: "C0TEST", TS: m.TS}, nil
}

// messagesByCheck groups the posted messages per check, in posting order.
func (f *fakeActivities) messagesByCheck() map[string][]release.SignoffMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]release.SignoffMessage{}
	for _, m := range f.signoffs {
		out[m.Check] = append(out[m.Check], m)
	}
	return out
}

func TestSignoffMessagesFollowTheLifecycle(t *testing.T) {
	h := newHarness(t, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	require.Equal(t, release.StateSucceeded, h.run().State)
	st := h.status()
	byCheck := h.act.messagesByCheck()

	var signoffs int
	for gi, g := range st.Gates {
		for _, c := range g.Checks {
			if c.Kind != release.KindSignoff {
				continue
			}
			msgs := byCheck[c.Name]
			if c.State == release.CheckSkipped {
				require.Empty(t, msgs, "%s does not apply: no message", c.Name)
				continue
			}
			signoffs++
			require.NotEmpty(t, msgs, "no message for %s", c.Name)
			first, last := msgs[0], msgs[len(msgs)-1]
			// the request: posted once the automated checks ran, before any approval, with buttons
			require.Empty(t, first.TS, "%s: the first post has no ts yet", c.Name)
			require.Empty(t, first.Result)
			require.Empty(t, first.Approvals)
			require.Equal(t, c.Needed, first.Required)
			for _, ev := range first.Evidence {
				require.NotEqual(t, release.CheckRunning, ev.State, "%s posted while %s was running", c.Name, ev.Name)
			}
			for _, a := range first.Approvers {
				require.NotEqual(t, "alice", a.ID, "the author is not offered as an approver")
			}
			// every later message updates the same one, in order, one per approval
			require.Len(t, msgs, c.Needed+1, "%s: one post, then one update per approval", c.Name)
			for i, m := range msgs[1:] {
				require.Equal(t, first.Key, m.Key)
				require.Equal(t, "ts:"+first.Key, m.TS, "%s: update %d goes to the posted message", c.Name, i+1)
				require.Len(t, m.Approvals, i+1)
			}
			require.Equal(t, release.SignoffApproved, last.Result)
			require.Equal(t, release.GateFingerprint(st.Gates[gi], c.Name), last.Fingerprint)
			for i, a := range last.Approvals {
				require.Equal(t, c.Approvals[i].Actor, a.ID)
				require.Equal(t, c.Approvals[i].At, a.At)
				require.NotEmpty(t, a.Slack, "the default policy has Slack ids for %s", a.ID)
			}
		}
	}
	require.Greater(t, signoffs, 5)
	keys := map[string]string{}
	for check, msgs := range byCheck {
		if other, dup := keys[msgs[0].Key]; dup {
			t.Fatalf("%s and %s share the key %s", check, other, msgs[0].Key)
		}
		keys[msgs[0].Key] = check
	}
}

func TestSignoffMessageShowsRefusalsRejectionAndRecheck(t *testing.T) {
	h := newHarness(t, nil)
	var blocked, reopened release.Status
	h.at(time.Second, func() {
		h.signal(release.SignalApprove, release.Command{Actor: "alice", Check: "peer-review"})
	})
	h.at(2*time.Second, func() {
		h.signal(release.SignalReject, release.Command{Actor: "bob", Check: "peer-review", Reason: "no tests for the fee path"})
	})
	h.at(3*time.Second, func() {
		blocked = h.status()
		h.signal(release.SignalRecheck, release.Command{Actor: "rm-ada", Gate: "G1"})
		h.signal(release.SignalClearRejection, release.Command{Actor: "rm-ada", Check: "peer-review", Reason: "fee path tests added"})
	})
	var staleFP string
	h.at(4*time.Second, func() {
		reopened = h.status()
		// a click on the message as it was before the recheck
		h.signal(release.SignalApprove, release.Command{Actor: "carol", Check: "peer-review", Channel: release.ChannelSlack, Fingerprint: staleFP})
	})
	h.at(5*time.Second, func() {
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "rewrite"})
	})
	h.at(1500*time.Millisecond, func() { staleFP = h.act.messagesByCheck()["peer-review"][0].Fingerprint })
	require.Equal(t, release.StateAborted, h.run().State)
	require.Equal(t, release.StateBlocked, blocked.State)
	require.Equal(t, release.GateWaiting, reopened.Gates[0].State)

	msgs := h.act.messagesByCheck()["peer-review"]
	var kinds []string
	for _, m := range msgs {
		kinds = append(kinds, orPending(m.Result))
	}
	// request, alice refused, bob's rejection, reopened after the recheck, carol's stale
	// click refused, withdrawn by the abort
	require.Equal(t, []string{"pending", "pending", "rejected", "pending", "pending", "withdrawn"}, kinds)

	require.Len(t, msgs[1].Refused, 1)
	require.Equal(t, "alice", msgs[1].Refused[0].ID)
	require.Contains(t, msgs[1].Refused[0].Reason, "author")

	require.Len(t, msgs[2].Rejections, 1)
	require.Equal(t, "bob", msgs[2].Rejections[0].ID)
	require.Equal(t, "no tests for the fee path", msgs[2].Rejections[0].Reason)
	require.Contains(t, msgs[2].ResultNote, "no tests for the fee path")

	require.NotEqual(t, msgs[2].Fingerprint, msgs[3].Fingerprint, "new evidence, new fingerprint")
	require.Equal(t, release.GateFingerprint(reopened.Gates[0], "peer-review"), msgs[3].Fingerprint)

	require.Len(t, msgs[4].Refused, 2)
	require.Equal(t, "carol", msgs[4].Refused[1].ID)
	require.Contains(t, msgs[4].Refused[1].Reason, "evidence changed")
	require.Empty(t, msgs[4].Approvals)

	require.Contains(t, msgs[5].ResultNote, "abort by rm-ada: rewrite")
	for _, m := range msgs[1:] {
		require.Equal(t, "ts:"+msgs[0].Key, m.TS)
	}
	// only G1 ever opened
	for check := range h.act.messagesByCheck() {
		g, _ := h.pol.FindCheck(check)
		require.Equal(t, "G1", g.ID, "message for %s", check)
	}
}
