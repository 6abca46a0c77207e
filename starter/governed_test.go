package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/devstack/demosvc"
	"github.com/shipgate/shipgate/internal/release"
)

// govDevDelay is the dev mainnet's timelock delay: short, so the test waits it out for real.
const govDevDelay = 5 * time.Second

// governedDev is the dev mainnet governed by a real Safe v1.5.0 (2 of 3 test owners) and a
// TimelockController, and the measurements the test takes of it.
type governedDev struct {
	gov *devstack.GovernedChain
	// policyEdits put the governance on the mainnet's line of the demo policy.
	policyEdits []string
	mu          sync.Mutex
	// thresholdToScheduled: from the threshold's last approveHash mined to the Safe's nonce
	// moving (execTransaction mined: the upgrade and its revert scheduled), per safeTxHash.
	thresholdToScheduled map[string]time.Duration
}

// governMainnet deploys the governance on the dev mainnet and hands the Counter proxy to the
// timelock (the worker must be idle: the deployer key sends).
func governMainnet(ctx context.Context, t *testing.T, c *contractChains, proxy string) *governedDev {
	t.Helper()
	owners, err := devstack.NewWallets(3)
	if err != nil {
		t.Fatal(err)
	}
	gov, err := devstack.DeployGovernedChain(ctx, c.mainnet.RPC, c.mainnet.ChainID, c.key, t.TempDir(), owners, 2, govDevDelay, c.key.Address)
	if err != nil {
		t.Fatal(err)
	}
	if err := gov.HandOver(ctx, c.key, common.HexToAddress(proxy)); err != nil {
		t.Fatal(err)
	}
	line := c.mainnet.RPC + `", confirmations: 2, deployer: DEPLOYER`
	return &governedDev{gov: gov, policyEdits: []string{line + "}", line + ", " + gov.PolicyYAML() + "}"}, thresholdToScheduled: map[string]time.Duration{}}
}

// approvers are the demo's people (signoffs) and the Safe's owners (approveHash on chain);
// after the owners approve, a watcher times how long until the Safe transaction executes.
func (g *governedDev) approvers(c client.Client, r devstack.Release) devstack.Approve {
	sent := map[string]bool{}
	owners := g.gov.Approvers("mainnet")
	return func(ctx context.Context, st release.Status) ([]string, error) {
		did, err := devstack.Approvers(ctx, c, r, st, sent)
		if err != nil {
			return did, err
		}
		more, err := owners(ctx, st)
		for _, u := range st.Governance {
			h := common.HexToHash(u.SafeTxHash)
			if at := g.gov.ApprovedAt(h); !at.IsZero() && len(more) > 0 {
				go g.timeScheduled(ctx, u.SafeTxHash, u.SafeNonce, at)
			}
		}
		return append(did, more...), err
	}
}

func (g *governedDev) timeScheduled(ctx context.Context, hash string, nonce uint64, approvedAt time.Time) {
	for ctx.Err() == nil {
		if n, err := g.gov.SafeNonce(ctx); err == nil && n > nonce {
			g.mu.Lock()
			g.thresholdToScheduled[hash] = time.Since(approvedAt)
			g.mu.Unlock()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (g *governedDev) scheduledAfter(hash string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.thresholdToScheduled[hash]
}

func deploymentsOf(st release.Status, chainName, op string) []release.ContractDeployment {
	var out []release.ContractDeployment
	for _, d := range st.Contracts {
		if d.Chain == chainName && d.Op == op {
			out = append(out, d)
		}
	}
	return out
}

// implementationOf reads a proxy's EIP-1967 implementation slot on a dev chain.
func implementationOf(t *testing.T, ch *devstack.Chain, proxy string) string {
	t.Helper()
	cl, err := chain.Dial(context.Background(), ch.RPC, ch.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	a, err := chain.ReadImplementation(context.Background(), cl, common.HexToAddress(proxy))
	if err != nil {
		t.Fatal(err)
	}
	return a.Hex()
}

// recordGoverned logs a governed release's history size and records it for the replay test
// as name when SHIPGATE_RECORD_GOVERNED_HISTORY is set.
func recordGoverned(t *testing.T, c client.Client, id, name string) {
	t.Helper()
	if os.Getenv("SHIPGATE_RECORD_GOVERNED_HISTORY") != "" {
		t.Setenv("SHIPGATE_RECORD_HISTORY", name)
	} else {
		t.Setenv("SHIPGATE_RECORD_HISTORY", "")
	}
	recordHistory(t, c, id)
}

// Governed releases end to end on the dev server with the real worker binary and geth --dev:
// the mainnet proxy is owned by a TimelockController whose proposer is a 2-of-3 Safe v1.5.0.
//
//   - 1.5.0: proposed through the Safe, two owners approve with approveHash from their own
//     keys, the worker executes the Safe transaction, the timelock's delay passes, the worker
//     executes the upgrade at the canary; the canary breaks and the rollback executes the
//     revert the Safe scheduled alongside: one transaction, no approval, no delay;
//   - 1.6.0: the same path with the worker SIGKILLed before and after each governed step
//     (propose, the owners' wait, execTransaction, execute): each executes exactly once.
//
// Record the histories with SHIPGATE_RECORD_GOVERNED_HISTORY=1.
func TestGovernedReleasesOnDevServer(t *testing.T) {
	c := startContractChains(t)
	s := newCrashStack(t)
	// a governed chain takes no raw hex key, even on a dev worker: the deployer as a keystore
	keystore, err := devstack.KeystoreEnv(devstack.DeployerKeyName, c.keyFile, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.killWorker()
	s.workerEnv = keystore
	s.startWorker()
	cl, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	// 1.4.0: CounterV1 behind its proxy on both chains; the mainnet is not governed yet
	m1, policy := s.writeContractRelease(c, "1.4.0", "CounterV1")
	r1 := s.load(m1, policy)
	if err := r1.Start(ctx, cl, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
		t.Fatal(err)
	}
	st1, err := devstack.Follow(ctx, cl, r1, io.Discard, true)
	if err != nil || st1.State != release.StateSucceeded {
		t.Fatalf("1.4.0 ended %s: %s (%v)\n%s", st1.State, st1.Reason, err, s.workerLog)
	}
	proxy, v1 := deploymentsOf(st1, "mainnet", release.OpDeployProxy)[0].Address, deploymentsOf(st1, "mainnet", release.OpDeploy)[0].Address

	g := governMainnet(ctx, t, c, proxy)
	t.Logf("mainnet governed: Safe %s (2 of 3), timelock %s (delay %s)", g.gov.Gov.Safe.Hex(), g.gov.Gov.Timelock.Hex(), govDevDelay)

	t.Run("rollback executes the prepared revert", func(t *testing.T) {
		// room for the fault to show in the canary watch
		base, policy := s.writeContractRelease(c, "1.4.0", "CounterV2", append(g.policyEdits, "canaryWatchMin: 2s", "canaryWatchMin: 30s")...)
		r := s.load(s.nextRelease(base, "1.4.0", "1.5.0"), policy)
		before := c.sent(t, c.mainnet)
		if err := r.Start(ctx, cl, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
			t.Fatal(err)
		}
		var afterUpgrade uint64
		broke := make(chan error, 1)
		go func() {
			_, err := devstack.BreakCanary(ctx, cl, r.In.Manifest.ID(), s.demoURL, io.Discard)
			broke <- err
		}()
		began := time.Now()
		approve := g.approvers(cl, r)
		st, err := devstack.FollowWith(ctx, cl, r.In.Manifest.ID(), io.Discard, func(ctx context.Context, st release.Status) ([]string, error) {
			if len(st.Governance) == 1 && st.Governance[0].Phase == release.GovUpgraded && afterUpgrade == 0 {
				afterUpgrade = c.sent(t, c.mainnet)
			}
			return approve(ctx, st)
		})
		if err != nil || st.State != release.StateRolledBack {
			t.Fatalf("1.5.0 ended %s in %s: %s (%v)\n%s", st.State, st.Stage, st.Reason, err, s.workerLog)
		}
		if err := <-broke; err != nil {
			t.Fatal(err)
		}
		took := time.Since(began)
		if got := implementationOf(t, c.mainnet, proxy); got != v1 {
			t.Fatalf("after the rollback the mainnet proxy runs %s, want v1 %s", got, v1)
		}
		if len(deploymentsOf(st, "mainnet", release.OpUpgrade)) != 0 || len(deploymentsOf(st, "mainnet", release.OpRevert)) != 0 {
			t.Fatalf("the worker's key switched the governed proxy: %+v", st.Contracts)
		}
		for _, op := range []string{release.OpDeploy, release.OpGovExecSafe, release.OpGovUpgrade, release.OpGovRevert} {
			if n := len(deploymentsOf(st, "mainnet", op)); n != 1 {
				t.Fatalf("%d %s on mainnet, want 1: %+v", n, op, st.Contracts)
			}
		}
		if len(st.Governance) != 1 || st.Governance[0].Phase != release.GovReverted {
			t.Fatalf("governance in status: %+v", st.Governance)
		}
		gu := st.Governance[0]
		// the worker's mainnet transactions: implementation, execTransaction, execute; then the revert
		total := c.sent(t, c.mainnet) - before
		if total != 4 || afterUpgrade-before != 3 {
			t.Fatalf("worker transactions on mainnet: %d in all, %d until the upgrade; want 4 and 3", total, afterUpgrade-before)
		}
		if n, err := g.gov.SafeNonce(ctx); err != nil || n != gu.SafeNonce+1 {
			t.Fatalf("Safe nonce %d (%v), want %d: one execTransaction", n, err, gu.SafeNonce+1)
		}
		for _, name := range []string{"governance Counter: owner approvals", "governance Counter: timelock delay"} {
			found := false
			for _, w := range st.Windows {
				found = found || (w.Name == name && w.State == release.WindowDone)
			}
			if !found {
				t.Fatalf("no closed window %q in status: %+v", name, st.Windows)
			}
		}
		t.Logf("governed upgrade: %d worker transactions (implementation, execTransaction, execute) + %d owner approveHash; rollback: %d worker transaction (execute of the prepared revert)",
			afterUpgrade-before, g.gov.Threshold, total-(afterUpgrade-before))
		t.Logf("threshold → scheduled on geth: %s; release 1.5.0 took %s", g.scheduledAfter(gu.SafeTxHash), took)
		recordGoverned(t, cl, r.In.Manifest.ID(), "v12-governed-rollback.json")
	})

	t.Run("worker killed around each governed step", func(t *testing.T) {
		// the stack's load (5 minutes) has ended by now: the canary analysis needs traffic
		lctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			_, _ = demosvc.Load(lctx, demosvc.LoadConfig{Target: s.demoURL + "/", RPS: 50, Duration: 15 * time.Minute})
		}()
		base, policy := s.writeContractRelease(c, "1.4.0", "CounterV2", g.policyEdits...)
		r := s.load(s.nextRelease(base, "1.4.0", "1.6.0"), policy)
		before := c.sent(t, c.mainnet)
		safeBefore, err := g.gov.SafeNonce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// before/after propose (built, not in history; watching), execTransaction (signed, not
		// sent; sent, not in history), execute (likewise)
		points := []string{"propose", "watch/approved", "sign/exec-safe", "broadcast/exec-safe", "sign/execute-upgrade", "broadcast/execute-upgrade"}
		s.killWorker()
		s.workerEnv = append(keystore, "SHIPGATE_TEST_CRASH_AT="+points[0])
		s.startWorker()
		if err := r.Start(ctx, cl, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
			t.Fatal(err)
		}
		type ended struct {
			st  release.Status
			err error
		}
		done := make(chan ended, 1)
		approve := g.approvers(cl, r)
		go func() {
			st, err := devstack.FollowWith(ctx, cl, r.In.Manifest.ID(), io.Discard, approve)
			done <- ended{st, err}
		}()
		for i, p := range points {
			s.waitWorkerDies(p, 5*time.Minute)
			s.workerEnv = keystore
			if i+1 < len(points) {
				s.workerEnv = append(keystore, "SHIPGATE_TEST_CRASH_AT="+points[i+1])
			}
			s.startWorker()
		}
		e := <-done
		if e.err != nil || e.st.State != release.StateSucceeded {
			t.Fatalf("1.6.0 ended %s: %s (%v)\n%s", e.st.State, e.st.Reason, e.err, s.workerLog)
		}
		st := e.st
		v2 := deploymentsOf(st, "mainnet", release.OpDeploy)[0].Address
		if got := implementationOf(t, c.mainnet, proxy); got != v2 {
			t.Fatalf("the mainnet proxy runs %s, want v2 %s", got, v2)
		}
		for _, op := range []string{release.OpDeploy, release.OpGovExecSafe, release.OpGovUpgrade} {
			if n := len(deploymentsOf(st, "mainnet", op)); n != 1 {
				t.Fatalf("%d %s on mainnet, want 1: %+v", n, op, st.Contracts)
			}
		}
		if n := c.sent(t, c.mainnet) - before; n != 3 {
			t.Fatalf("the worker sent %d transactions on mainnet across %d crashes, want 3 (implementation, execTransaction, execute)", n, len(points))
		}
		if n, err := g.gov.SafeNonce(ctx); err != nil || n != safeBefore+1 {
			t.Fatalf("Safe nonce %d (%v), want %d: exactly one execTransaction", n, err, safeBefore+1)
		}
		if len(st.Governance) != 1 || st.Governance[0].Phase != release.GovUpgraded || !strings.HasPrefix(st.Governance[0].Approvals, "2 of 2: ") {
			t.Fatalf("governance in status: %+v", st.Governance)
		}
		t.Logf("threshold → scheduled on geth with the worker killed around execTransaction: %s", g.scheduledAfter(st.Governance[0].SafeTxHash))
		recordGoverned(t, cl, r.In.Manifest.ID(), "v12-governed-crashes.json")
	})

	// an abort once the Safe transaction executed: the operations wait out the delay in the
	// timelock; the worker proposes their cancellation through the same Safe, the owners
	// approve it, the worker executes it, and the chain holds nothing of the release
	t.Run("abort during the timelock delay cancels through the Safe", func(t *testing.T) {
		// the stack's five minutes of load are over after the earlier subtests: the gates'
		// observability probes need traffic
		lctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			_, _ = demosvc.Load(lctx, demosvc.LoadConfig{Target: s.demoURL + "/", RPS: 50, Duration: 10 * time.Minute})
		}()
		base, policy := s.writeContractRelease(c, "1.4.0", "CounterV2", g.policyEdits...)
		r := s.load(s.nextReleaseLive(base, "1.7.0", "1.6.0"), policy)
		proxyBefore := implementationOf(t, c.mainnet, proxy)
		before := c.sent(t, c.mainnet)
		safeBefore, err := g.gov.SafeNonce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx, cl, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
			t.Fatal(err)
		}
		approve := g.approvers(cl, r)
		aborted := false
		st, err := devstack.FollowWith(ctx, cl, r.In.Manifest.ID(), io.Discard, func(ctx context.Context, st release.Status) ([]string, error) {
			// approved: the Safe transaction executes next and the delay (5 s) follows; an
			// abort sent now lands in the delay, however fast the worker is
			if !aborted && len(st.Governance) == 1 && (st.Governance[0].Phase == release.GovApproved || st.Governance[0].Phase == release.GovScheduled) {
				aborted = true
				if _, err := r.Send(ctx, cl, release.SignalAbort, release.Command{Actor: "rm-bo", Channel: release.ChannelCLI, Reason: "test: abort during the timelock delay"}); err != nil {
					return nil, err
				}
				return []string{"rm-bo aborted the release during the timelock delay"}, nil
			}
			return approve(ctx, st)
		})
		if err != nil || st.State != release.StateAborted {
			t.Fatalf("1.7.0 ended %s in %s: %s (%v)\n%s", st.State, st.Stage, st.Reason, err, s.workerLog)
		}
		if len(st.Governance) != 1 || st.Governance[0].Phase != release.GovCancelled {
			t.Fatalf("governance in status: %+v", st.Governance)
		}
		gu := st.Governance[0]
		for _, which := range []string{"upgrade", "revert"} {
			id := summaryOpID(t, gu.Summary, which)
			if ok, err := g.gov.OperationCancelled(ctx, id); err != nil || !ok {
				t.Fatalf("operation %s %s: cancelled on chain %v (%v)", which, id.Hex(), ok, err)
			}
		}
		if got := implementationOf(t, c.mainnet, proxy); got != proxyBefore {
			t.Fatalf("the mainnet proxy runs %s after the abort, want %s unchanged", got, proxyBefore)
		}
		for _, op := range []string{release.OpDeploy, release.OpGovExecSafe, release.OpGovCancel} {
			if n := len(deploymentsOf(st, "mainnet", op)); n != 1 {
				t.Fatalf("%d %s on mainnet, want 1: %+v", n, op, st.Contracts)
			}
		}
		if n := len(deploymentsOf(st, "mainnet", release.OpGovUpgrade)); n != 0 {
			t.Fatalf("the upgrade executed after the abort: %+v", st.Contracts)
		}
		if n := c.sent(t, c.mainnet) - before; n != 3 {
			t.Fatalf("the worker sent %d transactions on mainnet, want 3 (implementation, execTransaction, the cancellation's execTransaction)", n)
		}
		if n, err := g.gov.SafeNonce(ctx); err != nil || n != safeBefore+2 {
			t.Fatalf("Safe nonce %d (%v), want %d: the proposal and its cancellation", n, err, safeBefore+2)
		}
		t.Logf("abort during the delay: cancellation safeTxHash %s executed; both operations unset with Cancelled events", gu.CancelSafeTxHash)
		recordGoverned(t, cl, r.In.Manifest.ID(), "v12-governed-cancel.json")
	})

	// an abort while the owners have not approved: the release reads the chain before it calls
	// the proposal withdrawn (nothing executed, nothing scheduled), and sends nothing
	t.Run("abort while the owners approve reads the chain", func(t *testing.T) {
		// the stack's five minutes of load are over after the earlier subtests: the gates'
		// observability probes need traffic
		lctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			_, _ = demosvc.Load(lctx, demosvc.LoadConfig{Target: s.demoURL + "/", RPS: 50, Duration: 10 * time.Minute})
		}()
		base, policy := s.writeContractRelease(c, "1.4.0", "CounterV2", g.policyEdits...)
		r := s.load(s.nextReleaseLive(base, "1.8.0", "1.6.0"), policy)
		before := c.sent(t, c.mainnet)
		safeBefore, err := g.gov.SafeNonce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx, cl, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
			t.Fatal(err)
		}
		sent := map[string]bool{}
		aborted := false
		st, err := devstack.FollowWith(ctx, cl, r.In.Manifest.ID(), io.Discard, func(ctx context.Context, st release.Status) ([]string, error) {
			if !aborted && len(st.Governance) == 1 && st.Governance[0].Phase == release.GovProposed {
				aborted = true
				if _, err := r.Send(ctx, cl, release.SignalAbort, release.Command{Actor: "rm-bo", Channel: release.ChannelCLI, Reason: "test: abort while the owners approve"}); err != nil {
					return nil, err
				}
				return []string{"rm-bo aborted the release while the owners approve"}, nil
			}
			return devstack.Approvers(ctx, cl, r, st, sent) // people sign off; the owners never approve
		})
		if err != nil || st.State != release.StateAborted {
			t.Fatalf("1.8.0 ended %s in %s: %s (%v)\n%s", st.State, st.Stage, st.Reason, err, s.workerLog)
		}
		if len(st.Governance) != 1 || st.Governance[0].Phase != release.GovWithdrawn || !strings.Contains(st.Governance[0].Stopped, "awaiting-approvals; nothing scheduled") {
			t.Fatalf("governance in status: %+v", st.Governance)
		}
		if n := c.sent(t, c.mainnet) - before; n != 1 {
			t.Fatalf("the worker sent %d transactions on mainnet, want 1 (the implementation)", n)
		}
		if n, err := g.gov.SafeNonce(ctx); err != nil || n != safeBefore {
			t.Fatalf("Safe nonce %d (%v), want %d unchanged", n, err, safeBefore)
		}
		recordGoverned(t, cl, r.In.Manifest.ID(), "v12-governed-abort-race.json")
	})

	// the owners execute the approved Safe transaction themselves (one approveHash, the other
	// owner sends execTransaction): the release takes the operations as scheduled, sends no
	// execTransaction of its own and lands the upgrade
	t.Run("owners execute the Safe transaction themselves", func(t *testing.T) {
		lctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			_, _ = demosvc.Load(lctx, demosvc.LoadConfig{Target: s.demoURL + "/", RPS: 50, Duration: 10 * time.Minute})
		}()
		base, policy := s.writeContractRelease(c, "1.4.0", "CounterV2", g.policyEdits...)
		r := s.load(s.nextReleaseLive(base, "1.9.0", "1.6.0"), policy)
		before := c.sent(t, c.mainnet)
		safeBefore, err := g.gov.SafeNonce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx, cl, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
			t.Fatal(err)
		}
		sent := map[string]bool{}
		executed := false
		st, err := devstack.FollowWith(ctx, cl, r.In.Manifest.ID(), io.Discard, func(ctx context.Context, st release.Status) ([]string, error) {
			if !executed && len(st.Governance) == 1 && st.Governance[0].Phase == release.GovProposed {
				executed = true
				h, err := g.gov.OwnersExecute(ctx, st.Governance[0].Proposal)
				if err != nil {
					return nil, err
				}
				if h.Hex() != st.Governance[0].SafeTxHash {
					return nil, fmt.Errorf("the proposal's fields hash to %s, status shows %s", h.Hex(), st.Governance[0].SafeTxHash)
				}
				return []string{"the owners executed safeTxHash " + h.Hex() + " themselves"}, nil
			}
			return devstack.Approvers(ctx, cl, r, st, sent)
		})
		if err != nil || st.State != release.StateSucceeded {
			t.Fatalf("1.9.0 ended %s in %s: %s (%v)\n%s", st.State, st.Stage, st.Reason, err, s.workerLog)
		}
		v2 := deploymentsOf(st, "mainnet", release.OpDeploy)[0].Address
		if got := implementationOf(t, c.mainnet, proxy); got != v2 {
			t.Fatalf("the mainnet proxy runs %s, want %s", got, v2)
		}
		if n := len(deploymentsOf(st, "mainnet", release.OpGovExecSafe)); n != 0 {
			t.Fatalf("the worker executed the Safe transaction the owners had executed: %+v", st.Contracts)
		}
		if n := c.sent(t, c.mainnet) - before; n != 2 {
			t.Fatalf("the worker sent %d transactions on mainnet, want 2 (implementation, execute)", n)
		}
		if n, err := g.gov.SafeNonce(ctx); err != nil || n != safeBefore+1 {
			t.Fatalf("Safe nonce %d (%v), want %d", n, err, safeBefore+1)
		}
		found := false
		for _, a := range st.Audit {
			found = found || a.Action == "governance-executed-by-owners"
		}
		if !found || st.Governance[0].Phase != release.GovUpgraded {
			t.Fatalf("status does not say the owners executed it: %+v", st.Governance)
		}
		recordGoverned(t, cl, r.In.Manifest.ID(), "v12-governed-owners-executed.json")
	})

	// the second approval path end to end: two owners sign the proposal off chain with the CLI
	// (safe-sign: the hash recomputed from the proposal's fields, signed with the owner's
	// keystore key, sent as a signed command); a key that is not an owner's is refused; the
	// worker executes the Safe transaction with the signatures, no approveHash on chain
	t.Run("owners sign off chain through the CLI", func(t *testing.T) {
		lctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			_, _ = demosvc.Load(lctx, demosvc.LoadConfig{Target: s.demoURL + "/", RPS: 50, Duration: 10 * time.Minute})
		}()
		base, policy := s.writeContractRelease(c, "1.4.0", "CounterV2", g.policyEdits...)
		r := s.load(s.nextReleaseLive(base, "1.10.0", "1.9.0"), policy)
		before := c.sent(t, c.mainnet)
		if err := r.Start(ctx, cl, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
			t.Fatal(err)
		}
		id := r.In.Manifest.ID()
		bo, err := s.keys.KeyFile("rm-bo")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if _, _, err := devstack.DeployerKey(filepath.Join(dir, "stranger.key")); err != nil { // a key that is no owner's
			t.Fatal(err)
		}
		sent := map[string]bool{}
		signed := false
		var signing time.Duration
		st, err := devstack.FollowWith(ctx, cl, id, io.Discard, func(ctx context.Context, st release.Status) ([]string, error) {
			if signed || len(st.Governance) != 1 || st.Governance[0].Phase != release.GovProposed {
				return devstack.Approvers(ctx, cl, r, st, sent)
			}
			signed = true
			began := time.Now()
			env, err := devstack.KeystoreEnv("stranger", filepath.Join(dir, "stranger.key"), dir)
			if err != nil {
				return nil, err
			}
			if out, errOut, code := s.cliWithEnv(bo, env, "safe-sign", id, "--as", "rm-bo", "--owner-key", "stranger"); code != 4 || !strings.Contains(errOut, "who is not an owner of Safe") {
				return nil, fmt.Errorf("safe-sign by a key that is not an owner's: exit %d\n%s%s", code, out, errOut)
			}
			for i := range g.gov.Threshold {
				name := fmt.Sprintf("owner%d", i+1)
				env, err := g.gov.OwnerKeystoreEnv(i, name, dir)
				if err != nil {
					return nil, err
				}
				out, errOut, code := s.cliWithEnv(bo, env, "safe-sign", id, "--as", "rm-bo", "--owner-key", name)
				if code != 0 || !strings.Contains(out, "recomputed from these fields") || !strings.Contains(out, "safe-sign "+id+": accepted") {
					return nil, fmt.Errorf("safe-sign by %s: exit %d\n%s%s", name, code, out, errOut)
				}
			}
			signing = time.Since(began)
			return []string{"two owners signed off chain"}, nil
		})
		if err != nil || st.State != release.StateSucceeded {
			t.Fatalf("1.10.0 ended %s in %s: %s (%v)\n%s", st.State, st.Stage, st.Reason, err, s.workerLog)
		}
		if got, v2 := implementationOf(t, c.mainnet, proxy), deploymentsOf(st, "mainnet", release.OpDeploy)[0].Address; got != v2 {
			t.Fatalf("the mainnet proxy runs %s, want %s", got, v2)
		}
		if n := len(deploymentsOf(st, "mainnet", release.OpGovExecSafe)); n != 1 {
			t.Fatalf("%d exec-safe, want 1: %+v", n, st.Contracts)
		}
		if n := c.sent(t, c.mainnet) - before; n != 3 {
			t.Fatalf("the worker sent %d transactions on mainnet, want 3", n)
		}
		if !g.gov.ApprovedAt(common.HexToHash(st.Governance[0].SafeTxHash)).IsZero() {
			t.Fatal("an approveHash was sent: the signatures alone must meet the threshold")
		}
		if !strings.HasPrefix(st.Governance[0].Approvals, "2 of 2: ") {
			t.Fatalf("approvals in status: %q", st.Governance[0].Approvals)
		}
		t.Logf("three safe-sign runs of the CLI (one refused) took %s", signing)
		recordGoverned(t, cl, id, "v12-governed-signatures.json")
	})
}

// summaryOpID is a governed proposal's timelock operation id (which: upgrade or revert) as its
// summary states it.
func summaryOpID(t *testing.T, summary []string, which string) common.Hash {
	t.Helper()
	for _, l := range summary {
		if rest, ok := strings.CutPrefix(l, "operation "+which+" "); ok {
			id, _, _ := strings.Cut(rest, " ")
			return common.HexToHash(id)
		}
	}
	t.Fatalf("no operation %s in the summary %q", which, summary)
	return common.Hash{}
}

// nextReleaseLive is nextRelease from the 1.4.0 base to version to, its previousVersion the
// version production serves now (live): the production lane refuses a manifest whose
// previousVersion is not what is live (1.6.0 after the crash subtest; 1.7.0 and 1.8.0 are
// aborted, 1.9.0 goes live).
func (s *stack) nextReleaseLive(base, to, live string) string {
	s.t.Helper()
	p := s.nextRelease(base, "1.4.0", to)
	b, err := os.ReadFile(p)
	if err != nil {
		s.t.Fatal(err)
	}
	text := strings.Replace(string(b), "previousVersion: 1.4.0", "previousVersion: "+live, 1)
	if text == string(b) {
		s.t.Fatalf("%s: no previousVersion 1.4.0 to replace", p)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}
