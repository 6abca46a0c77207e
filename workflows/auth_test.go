package workflows

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

// Every way of acting as someone else, or as no one, is refused and audited under the claimed
// name, and changes nothing.
func TestForgedCommandsAreRefused(t *testing.T) {
	h := newHarness(t, nil)
	id := h.in.Manifest.ID()
	bind := release.Binding{Release: id, Run: testRunID}
	signAs := func(key, action string, cmd release.Command, b release.Binding, at time.Time) release.Command {
		if cmd.Channel == "" {
			cmd.Channel = release.ChannelCLI
		}
		require.NoError(t, control.Sign(testKeys.MustSigner(key), action, &cmd, b, at))
		return cmd
	}
	approve := func(actor string) release.Command { return release.Command{Actor: actor, Check: "peer-review"} }
	var replay release.Command
	h.at(time.Second, func() {
		now := h.env.Now()
		// unsigned, as `temporal workflow signal` sends it
		h.env.SignalWorkflow(release.SignalApprove, release.Command{Actor: "bob", Channel: release.ChannelCLI, Check: "peer-review"})
		// a "Slack click" sent straight to Temporal: not signed by a bridge key
		h.env.SignalWorkflow(release.SignalApprove, signAs("carol", release.SignalApprove, release.Command{Actor: "U0CAROL06", Channel: release.ChannelSlack, Check: "peer-review"}, bind, now))
		// alice (the author) signs as bob and as carol with her own key
		h.env.SignalWorkflow(release.SignalApprove, signAs("alice", release.SignalApprove, approve("bob"), bind, now))
		// a key no one listed
		h.env.SignalWorkflow(release.SignalApprove, signAs("stranger", release.SignalApprove, approve("carol"), bind, now))
		// expired and from the future
		h.env.SignalWorkflow(release.SignalApprove, signAs("carol", release.SignalApprove, approve("carol"), bind, now.Add(-10*time.Minute)))
		h.env.SignalWorkflow(release.SignalApprove, signAs("carol", release.SignalApprove, approve("carol"), bind, now.Add(10*time.Minute)))
		// signed for another release, another run, another action
		h.env.SignalWorkflow(release.SignalApprove, signAs("carol", release.SignalApprove, approve("carol"), release.Binding{Release: "release/payments/9.9.9", Run: testRunID}, now))
		h.env.SignalWorkflow(release.SignalApprove, signAs("carol", release.SignalApprove, approve("carol"), release.Binding{Release: id, Run: "an-earlier-run"}, now))
		h.env.SignalWorkflow(release.SignalApprove, signAs("carol", release.SignalReject, approve("carol"), bind, now))
		// signed for one check, re-targeted to another
		moved := signAs("carol", release.SignalApprove, approve("carol"), bind, now)
		moved.Check = "query-budget"
		h.env.SignalWorkflow(release.SignalApprove, moved)
		// a good one, then the same bytes again
		replay = signAs("bob", release.SignalApprove, approve("bob"), bind, now)
		h.env.SignalWorkflow(release.SignalApprove, replay)
		h.env.SignalWorkflow(release.SignalApprove, replay)
	})
	var st release.Status
	h.at(time.Minute, func() {
		st = h.status()
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "end of test"})
	})
	require.Equal(t, release.StateAborted, h.run().State)

	cs := st.Gates[0].Checks[5]
	require.Equal(t, "peer-review", cs.Name)
	require.Len(t, cs.Approvals, 1, "only bob's own signed approval counts")
	require.Equal(t, "bob", cs.Approvals[0].Actor)
	for _, want := range []struct{ actor, reason string }{
		{"unproven:bob", "not signed"},
		{"unproven:U0CAROL06", "must be signed by a Slack-bridge key"},
		{"unproven:bob", "is not one of bob's keys"},
		{"unproven:carol", "is not one of carol's keys"},
		{"unproven:carol", "more than 5m0s ago"},
		{"unproven:carol", "in the future"},
		{"unproven:carol", `signed for release "release/payments/9.9.9"`},
		{"unproven:carol", `run "an-earlier-run"`},
		{"unproven:carol", "signature does not match"}, // signed as a reject
		{"unproven:carol", "signature does not match"}, // re-targeted check
		{"unproven:bob", "replayed nonce"},
	} {
		found := false
		for _, e := range st.Audit {
			if e.Actor == want.actor && !e.Accepted && strings.Contains(e.Reason, want.reason) {
				found = true
			}
		}
		require.True(t, found, "no refusal of %s %q in the audit log", want.actor, want.reason)
	}
}

// Forged updates past forgedAuditCap are rejected by the validator: they never reach
// history, however many come. Forged signals are audited up to the cap and then only counted.
func TestForgedFloodIsBounded(t *testing.T) {
	h := newHarness(t, nil)
	const forged = 200
	rejected, completed, bigRejected := 0, 0, 0
	h.at(500*time.Millisecond, func() {
		big := release.Command{Actor: "bob", Channel: release.ChannelCLI, Check: "peer-review", Comment: strings.Repeat("x", 100<<10)}
		h.env.UpdateWorkflow(release.UpdateDecide, "big", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(error) { bigRejected++ }, OnComplete: func(any, error) {},
		}, release.Decide{Signal: release.SignalApprove, Command: big})
	})
	h.at(time.Second, func() {
		for i := range forged {
			h.env.UpdateWorkflow(release.UpdateDecide, fmt.Sprintf("forged-%d", i), &testsuite.TestUpdateCallback{
				OnAccept:   func() {},
				OnReject:   func(error) { rejected++ },
				OnComplete: func(any, error) { completed++ },
			}, release.Decide{Signal: release.SignalApprove, Command: release.Command{Actor: "bob", Channel: release.ChannelSlack, Check: "peer-review"}})
			h.env.SignalWorkflow(release.SignalAbort, release.Command{Actor: "rm-ada", Channel: release.ChannelCLI, Reason: "forged"})
		}
	})
	var st release.Status
	h.at(time.Minute, func() {
		st = h.status()
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "end of test"})
	})
	res := h.run()
	require.Equal(t, release.StateAborted, res.State)
	require.Contains(t, res.Reason, "end of test", "only the signed abort acts")
	unproven := 0
	for _, e := range st.Audit {
		if strings.HasPrefix(e.Actor, "unproven:") {
			unproven++
		}
	}
	require.Equal(t, forgedAuditCap, unproven)
	require.Equal(t, 1, bigRejected, "an oversized command is refused before history, even under the audit cap")
	require.Equal(t, forged-completed, rejected)
	require.LessOrEqual(t, completed, forgedAuditCap)
}

// The start is the first command: unsigned, signed by someone the policy does not let start
// releases, signed for another manifest or policy, or carrying a policy of its own, the
// release ends at once and deploys nothing.
func TestStartIsRefused(t *testing.T) {
	for _, c := range []struct {
		name   string
		setup  func(h *harness)
		reason string
	}{
		{"unsigned", func(h *harness) { h.unsigned = true }, "start command is not signed"},
		{"not a starter", func(h *harness) { h.starter = "bob" }, "bob may not start releases"},
		{"unknown person", func(h *harness) { h.starter = "mallory" }, `"mallory" is not a member`},
		{"another manifest", func(h *harness) {
			h.run0 = func() { h.in.Manifest.Changes.Major = false }
		}, "the start was signed for policy"},
		{"another policy", func(h *harness) { h.in.PolicyName = "lenient" }, `policy "lenient": no policy lenient`},
		{"a policy in the input", func(h *harness) {
			weak := *h.pol
			weak.Gates = nil
			h.in.Policy, h.in.PolicyDigest = &weak, "sha256:copied"
		}, "the input carries a policy"},
		{"an invalid manifest", func(h *harness) { h.in.Manifest.PreviousVersion = h.in.Manifest.Version },
			"workflow input manifest: previousVersion: equals version"},
		{"an author no signoff can do without", func(h *harness) {
			_, c := h.pol.FindCheck("contract-security-review")
			c.Approvals = 2
			h.in.Manifest.Author = "erin"
		}, `check "contract-security-review" needs 2 approvers`},
		// issue 12: the worker must never be handed a path or URL to open
		{"evidence named by a path on the worker", func(h *harness) {
			h.in.Manifest.Blobs["unit-coverage"] = nil
			h.in.Manifest.Evidence = map[string][]string{"unit-coverage": {"/srv/shipgate/.data/deployer.key"}}
		}, "evidence[unit-coverage]: names a location"},
		{"evidence named by an internal URL", func(h *harness) {
			h.in.Manifest.Evidence = map[string][]string{"lint": {"http://127.0.0.1:9464/metrics"}}
		}, "evidence[lint]: names a location"},
		{"a blob whose digest is a path", func(h *harness) {
			h.in.Manifest.Blobs["lint"] = []release.Blob{{Name: "lint.sarif", SHA256: "../../../../etc/shadow", Size: 10}}
		}, "blobs[lint][0]: sha256 must be 64 lower-case hex digits"},
		{"a contract artifact named by a path", func(h *harness) {
			h.in.Manifest.Contracts = []release.Contract{{Name: "Counter", Artifact: "/etc/passwd"}}
			h.pol.Chains = []release.Chain{
				{Name: "testnet", Role: "testnet", ChainID: 31337, RPC: "sim://testnet", Confirmations: 2, Deployer: "DEPLOYER"},
				{Name: "mainnet", Role: "mainnet", ChainID: 31338, RPC: "sim://mainnet", Confirmations: 3, Deployer: "DEPLOYER"},
			}
		}, "contracts[0].artifactBlob: is missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			c.setup(h)
			res := h.run()
			require.Equal(t, release.StateFailed, res.State)
			require.Contains(t, res.Reason, "start refused: ")
			require.Contains(t, res.Reason, c.reason)
			require.Empty(t, h.act.traffic)
			require.Empty(t, h.act.notices)
			st := h.status()
			require.Len(t, st.Audit, 1)
			require.False(t, st.Audit[0].Accepted)
			require.Equal(t, release.ActionStart, st.Audit[0].Action)
		})
	}
}
