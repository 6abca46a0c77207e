package workflows

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/chain/safe"
	"github.com/shipgate/shipgate/internal/release"
)

const govDelay = 24 * time.Hour

// govMainnet is the simulated mainnet governed the way a serious team's is: the real Safe
// v1.5.0 (2 of 3 test owners), MultiSendCallOnly and OpenZeppelin's TimelockController (the
// Safe proposes and cancels, the worker executes), with the demo Counter's proxy owned by the
// timelock. The owners are people with their own wallets: here test keys that approve the
// proposal's safeTxHash on chain (approveHash) when the release proposes it.
type govMainnet struct {
	c         *simChains
	gov       safe.Governance
	owners    []*chain.Key
	ownerNS   *chain.NonceStore
	approvers []*chain.Key // the owners who approve (2 of 3)
	mu        sync.Mutex
	approved  map[common.Hash]bool
	adjusted  map[common.Hash]bool
	proposals []*safe.Proposal
	// hold, when set, runs instead of the owners' approvals (an abort during their wait)
	hold func()
	// settle, when set, runs when an aborted release waits for the Safe's nonce to be used
	settle func(ctx context.Context) error
	// ownersExecute: an owner executes the approved Safe transaction before the watch reads
	// the chain ("before") or right after it reported the threshold met ("after")
	ownersExecute string
	// sign, when set, runs instead of the owners' approveHash: they hand in signatures
	sign func(p *safe.Proposal)
	// signed is closed when the workflow restarts the watch with the signatures: the first
	// watch waits for it (the workflow's own pace, not a wall-clock guess) before it ends
	signed chan struct{}
	// priv are the owners' private keys, for their EIP-712 signatures
	priv map[common.Address]*ecdsa.PrivateKey
	// cancels are the cancellations the owners approved
	cancels []*safe.Cancellation
	// owners, when set, runs each owners' wait instead of the approvals above (n counts the
	// waits for the proposal from 0); it returns what the watch reports
	ownersWait func(ctx context.Context, n int, req release.GovernanceWatchRequest, p *safe.Proposal) (release.GovernanceProgress, error)
	waits      int
	// onReject, when set, runs instead of the owners' approval of a rejection
	onReject func(ctx context.Context) error
	// module is a key enabled as a module of the Safe (withModule): it changes owners and the
	// threshold without a Safe nonce
	module *chain.Key
}

func (c *simChains) mainnet() *simBackend {
	return &simBackend{c: c, rpc: "sim://mainnet"}
}

type simBackend struct {
	c   *simChains
	rpc string
}

// send signs key's transaction under store, broadcasts it and mines until it is confirmed.
func (s *simBackend) send(ctx context.Context, key *chain.Key, store *chain.NonceStore, req chain.TxRequest) (*chain.SignedTx, error) {
	sim := s.c.sims[s.rpc]
	b := sim.Client()
	st, err := chain.SignTx(ctx, b, key, store, req)
	if err != nil {
		return nil, err
	}
	if _, err := chain.Broadcast(ctx, b, st.Raw); err != nil {
		return nil, err
	}
	_, err = chain.WaitConfirmed(ctx, b, st.Raw, chain.WaitOptions{Confirmations: 1, PollInterval: time.Millisecond, OnProgress: func(chain.WaitProgress) { s.c.commit(sim) }})
	return st, err
}

// newGovMainnet deploys the governance contracts on the simulated mainnet with the worker's
// key (through its nonce store, like every worker transaction), funds the owners and hands the
// Counter proxy's ownership to the timelock.
func newGovMainnet(t *testing.T, c *simChains, proxy string) *govMainnet {
	ctx := context.Background()
	g := &govMainnet{c: c, ownerNS: &chain.NonceStore{Dir: t.TempDir()}, approved: map[common.Hash]bool{}, adjusted: map[common.Hash]bool{}, priv: map[common.Address]*ecdsa.PrivateKey{}}
	m := c.mainnet()
	var owners []common.Address
	for i := range 3 {
		priv, err := crypto.GenerateKey()
		require.NoError(t, err)
		k := chain.NewKey(fmt.Sprintf("owner%d", i), priv)
		g.priv[k.Address] = priv
		g.owners = append(g.owners, k)
		owners = append(owners, k.Address)
		to := k.Address
		_, err = m.send(ctx, c.key, c.act.Nonces, chain.TxRequest{OpKey: "test/fund/" + k.Name, To: &to, Value: big.NewInt(params.Ether)})
		require.NoError(t, err)
	}
	slices.SortFunc(g.owners, func(a, b *chain.Key) int { return a.Address.Cmp(b.Address) })
	g.approvers = g.owners[:2]
	var err error
	g.gov, err = safe.DeployGovernance(ctx, c.sims["sim://mainnet"].Client(), c.key.Address, func(ctx context.Context, opKey string, to *common.Address, data []byte) (*chain.SignedTx, error) {
		return m.send(ctx, c.key, c.act.Nonces, chain.TxRequest{OpKey: opKey, To: to, Data: data})
	}, "test/governance", owners, 2, uint64(govDelay.Seconds()), c.key.Address)
	require.NoError(t, err)
	v1, err := chain.LoadArtifact(demoArtifacts, "CounterV1")
	require.NoError(t, err)
	data, err := v1.ABI.Pack("transferOwnership", g.gov.Timelock)
	require.NoError(t, err)
	p := common.HexToAddress(proxy)
	_, err = m.send(ctx, c.key, c.act.Nonces, chain.TxRequest{OpKey: "test/transfer-ownership", To: &p, Data: data})
	require.NoError(t, err)
	return g
}

func (g *govMainnet) policy() *release.Governance {
	out := &release.Governance{Safe: g.gov.Safe.Hex(), Timelock: g.gov.Timelock.Hex(), MultiSend: g.gov.MultiSend.Hex(), Threshold: 2, MinDelay: release.Duration(govDelay)}
	for _, o := range g.owners {
		out.Owners = append(out.Owners, o.Address.Hex())
	}
	return out
}

// register puts the real governance activities into h, the watch behind the owners: when the
// release waits for approvals, two owners approve the proposal's hash from their own keys;
// when it waits out the delay (a durable timer the test environment skips), the chain's clock
// moves by the delay too.
func (g *govMainnet) register(h *harness) {
	h.env.RegisterActivityWithOptions(g.c.act.Propose, activity.RegisterOptions{Name: release.ActivityGovernancePropose})
	h.env.RegisterActivityWithOptions(g.c.act.ProposeCancel, activity.RegisterOptions{Name: release.ActivityGovernanceCancel})
	h.env.RegisterActivityWithOptions(g.c.act.CheckSignature, activity.RegisterOptions{Name: release.ActivityGovernanceCheckSignature})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, req release.GovernanceWatchRequest) (release.GovernanceProgress, error) {
		if req.Until == release.WatchCancel {
			var cn safe.Cancellation
			if err := json.Unmarshal(req.Proposal, &cn); err != nil {
				return release.GovernanceProgress{}, err
			}
			g.mu.Lock()
			g.cancels = append(g.cancels, &cn)
			var err error
			if cn.Rejection() && g.onReject != nil {
				err = g.onReject(ctx)
			} else {
				err = g.approveHash(ctx, cn.SafeTxHash, cn.SafeTx.Safe)
			}
			g.mu.Unlock()
			if err != nil {
				return release.GovernanceProgress{}, err
			}
			return g.c.act.Watch(ctx, req)
		}
		var p safe.Proposal
		if err := json.Unmarshal(req.Proposal, &p); err != nil {
			return release.GovernanceProgress{}, err
		}
		g.mu.Lock()
		switch {
		case req.Until == release.WatchSettled && g.settle != nil:
			if err := g.settle(ctx); err != nil {
				g.mu.Unlock()
				return release.GovernanceProgress{}, err
			}
		case req.Until == release.WatchApproved && g.sign != nil && len(req.Signatures) == 0:
			// the owners sign off chain; each accepted signature restarts this watch with it
			g.proposals = append(g.proposals, &p)
			signed := make(chan struct{})
			g.signed = signed
			g.mu.Unlock()
			g.sign(&p)
			// the workflow restarts the watch with the signatures and cancels this one; the
			// test environment passes no cancellation to an activity that does not heartbeat,
			// so this one ends by itself once the restarted watch has begun (an error the
			// workflow ignores, having cancelled it). It used to end after 2 s of wall clock,
			// which a loaded machine overran: the release then failed this watch before the
			// signatures were checked and the test timed out (1 run in 9 here).
			select {
			case <-ctx.Done():
			case <-signed:
			case <-time.After(time.Minute):
			}
			return release.GovernanceProgress{}, errors.New("the owners' signatures were not taken up: this watch was not replaced")
		case req.Until == release.WatchApproved && g.sign != nil:
			if g.signed != nil {
				close(g.signed)
				g.signed = nil
			}
		case req.Until == release.WatchApproved && g.ownersWait != nil:
			if g.waits == 0 {
				g.proposals = append(g.proposals, &p)
			}
			n := g.waits
			g.waits++
			g.mu.Unlock()
			return g.ownersWait(ctx, n, req, &p)
		case req.Until == release.WatchApproved && g.hold != nil:
			// the owners sit on it; a person aborts meanwhile (the test clock stands still
			// while an activity runs, so the abort comes from here)
			g.proposals = append(g.proposals, &p)
			g.mu.Unlock()
			g.hold()
			<-ctx.Done()
			return release.GovernanceProgress{}, ctx.Err()
		case req.Until == release.WatchApproved && !g.approved[p.SafeTxHash]:
			g.approved[p.SafeTxHash] = true
			g.proposals = append(g.proposals, &p)
			if err := g.approveHash(ctx, p.SafeTxHash, p.SafeTx.Safe); err != nil {
				g.mu.Unlock()
				return release.GovernanceProgress{}, err
			}
			switch g.ownersExecute {
			case "before":
				if err := g.ownerExecutes(ctx, &p); err != nil {
					g.mu.Unlock()
					return release.GovernanceProgress{}, err
				}
			case "after":
				g.mu.Unlock()
				pr, err := g.c.act.Watch(ctx, req)
				if err == nil {
					err = g.ownerExecutes(ctx, &p)
				}
				return pr, err
			}
		case req.Until == release.WatchReady && !g.adjusted[p.SafeTxHash]:
			g.adjusted[p.SafeTxHash] = true
			sim := g.c.sims["sim://mainnet"]
			_ = g.c.adjustTime(sim, govDelay)
			g.c.commit(sim)
		}
		g.mu.Unlock()
		return g.c.act.Watch(ctx, req)
	}, activity.RegisterOptions{Name: release.ActivityGovernanceWatch})
}

// approveHash: the approving owners approve hash on the Safe from their own keys.
func (g *govMainnet) approveHash(ctx context.Context, hash common.Hash, safeAddr common.Address) error {
	for _, o := range g.approvers {
		data, err := safe.ApproveHashData(hash)
		if err == nil {
			_, err = g.c.mainnet().send(ctx, o, g.ownerNS, chain.TxRequest{OpKey: "approve/" + hash.Hex(), To: &safeAddr, Data: data})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ownerExecutes: an approving owner executes the approved Safe transaction themselves (the
// Safe lets anyone do so once the threshold is met), from their own key.
func (g *govMainnet) ownerExecutes(ctx context.Context, p *safe.Proposal) error {
	req, err := safe.ExecSafeRequest(ctx, g.c.sims["sim://mainnet"].Client(), p, nil, "owner-exec/"+p.SafeTxHash.Hex())
	if err != nil {
		return err
	}
	_, err = g.c.mainnet().send(ctx, g.approvers[0], g.ownerNS, req)
	return err
}

// withModule enables a new key as a module of the Safe (a real Safe feature: recovery and
// roles modules change owners without the owners' signatures and without a nonce): the
// approving owners approve the Safe transaction enableModule(key) and one of them executes it.
func (g *govMainnet) withModule(t *testing.T) {
	ctx := context.Background()
	priv, err := crypto.GenerateKey()
	require.NoError(t, err)
	g.module = chain.NewKey("module", priv)
	to := g.module.Address
	_, err = g.c.mainnet().send(ctx, g.c.key, g.c.act.Nonces, chain.TxRequest{OpKey: "test/fund/module", To: &to, Value: big.NewInt(params.Ether)})
	require.NoError(t, err)
	b := g.c.sims["sim://mainnet"].Client()
	n, err := safe.Nonce(ctx, b, g.gov.Safe)
	require.NoError(t, err)
	data, err := safe.EnableModuleData(g.module.Address)
	require.NoError(t, err)
	tx, h, err := safe.SelfTx(g.gov.Safe, g.gov.ChainID, data, n)
	require.NoError(t, err)
	require.NoError(t, g.approveHash(ctx, h, g.gov.Safe))
	req, err := safe.ExecSafeTxRequest(ctx, b, tx, h, nil, "owner-exec/enable-module")
	require.NoError(t, err)
	_, err = g.c.mainnet().send(ctx, g.approvers[0], g.ownerNS, req)
	require.NoError(t, err)
}

// moduleRemoves: the module removes owner from the Safe, keeping the threshold at 2.
func (g *govMainnet) moduleRemoves(ctx context.Context, owner common.Address) error {
	b := g.c.sims["sim://mainnet"].Client()
	data, err := safe.RemoveOwnerData(ctx, b, g.gov.Safe, owner, 2)
	if err != nil {
		return err
	}
	call, err := safe.ModuleCallData(g.gov.Safe, data)
	if err != nil {
		return err
	}
	to := g.gov.Safe
	_, err = g.c.mainnet().send(ctx, g.module, g.ownerNS, chain.TxRequest{OpKey: "module/remove/" + owner.Hex(), To: &to, Data: call})
	return err
}

// governedRelease is release 2.0.0 of the demo counter with the simulated mainnet governed.
func (g *govMainnet) governedRelease(t *testing.T) *harness {
	h := g.c.contractRelease(t, "2.0.0", "CounterV2", demoArtifacts)
	h.pol.Chains[1].Governance = g.policy()
	h.pol.Profile = release.ProfileProduction
	g.register(h)
	return h
}

func govFirstRelease(t *testing.T) (*simChains, *govMainnet, string, string) {
	c := newSimChains(t)
	h1 := c.contractRelease(t, "1.0.0", "CounterV1", demoArtifacts)
	require.Equal(t, release.StateSucceeded, h1.run().State)
	st1 := h1.status()
	proxy, v1 := contractsOf(st1, "mainnet", release.OpDeployProxy)[0].Address, contractsOf(st1, "mainnet", release.OpDeploy)[0].Address
	return c, newGovMainnet(t, c, proxy), proxy, v1
}

// A governed release reaches production: the worker's key never switches the mainnet proxy;
// it proposes one Safe transaction (upgrade and revert scheduled together), two of three
// owners approve it on chain, the worker executes it once, the timelock's delay passes as a
// named window, and the worker executes the upgrade once. Status carries what the owners
// check. The testnet (not governed) is switched with the worker's key as before.
func TestGovernedReleaseReachesProduction(t *testing.T) {
	c, g, proxy, v1 := govFirstRelease(t)
	before := c.nonce(t, "sim://mainnet")
	h := g.governedRelease(t)
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State, res.Reason)
	st := h.status()

	v2 := contractsOf(st, "mainnet", release.OpDeploy)[0].Address
	require.Equal(t, v2, c.implementation(t, "sim://mainnet", proxy), "the proxy runs v2")
	require.Empty(t, contractsOf(st, "mainnet", release.OpUpgrade), "no switch with the worker's key on a governed chain")
	require.Len(t, contractsOf(st, "mainnet", release.OpGovExecSafe), 1)
	up := contractsOf(st, "mainnet", release.OpGovUpgrade)
	require.Len(t, up, 1)
	require.Equal(t, v2, up[0].Implementation)
	require.Len(t, contractsOf(st, "testnet", release.OpUpgrade), 1)
	// the worker's transactions on mainnet: the implementation, execTransaction, execute
	require.Equal(t, before+3, c.nonce(t, "sim://mainnet"))
	t.Logf("governed upgrade: %d worker transactions on mainnet besides the implementation deploy, plus %d owner approvals", 2, len(g.approvers))

	require.Len(t, st.Governance, 1)
	gu := st.Governance[0]
	require.Equal(t, release.GovUpgraded, gu.Phase)
	require.Len(t, g.proposals, 1)
	p := g.proposals[0]
	require.Equal(t, p.SafeTxHash.Hex(), gu.SafeTxHash)
	require.True(t, strings.HasPrefix(gu.Approvals, "2 of 2: "), gu.Approvals)
	require.ElementsMatch(t, []string{g.approvers[0].Address.Hex(), g.approvers[1].Address.Hex()}, strings.Split(strings.TrimPrefix(gu.Approvals, "2 of 2: "), ", "))
	summary := strings.Join(gu.Summary, "\n")
	require.Contains(t, summary, "safeTxHash "+p.SafeTxHash.Hex())
	require.Contains(t, summary, "upgrade Counter proxy "+proxy+" (uups) from "+v1+" to "+v2)
	require.Contains(t, summary, "delay 24h0m0s")
	for _, name := range []string{govApprovalWindow("Counter"), govDelayWindow("Counter")} {
		i := slices.IndexFunc(st.Windows, func(w release.WindowStatus) bool { return w.Name == name })
		require.GreaterOrEqual(t, i, 0, name)
		require.Equal(t, release.WindowDone, st.Windows[i].State, name)
		require.Equal(t, release.StageProduction, st.Windows[i].Stage, "%s: opened in the stage that switches the proxy", name)
	}
	require.True(t, h.auditHas(st, "governance-proposed", "upgrade of Counter on mainnet", true, "safeTxHash "+p.SafeTxHash.Hex()))
	require.True(t, h.auditHas(st, "governance-approved", "upgrade of Counter on mainnet", true, "2 of 2"))
	// the revert waits, ready, for a rollback that did not come
	state, _, err := safe.OpState(context.Background(), c.sims["sim://mainnet"].Client(), p.Timelock, p.Revert.ID)
	require.NoError(t, err)
	require.Equal(t, safe.OpReady, state)
}

// A canary whose analysis fails after the governed upgrade landed rolls back by executing the
// revert the Safe scheduled alongside the upgrade: one transaction, no new approval, no delay.
func TestGovernedRollbackExecutesPreparedRevert(t *testing.T) {
	c, g, proxy, v1 := govFirstRelease(t)
	h := g.governedRelease(t)
	withAnalysis("")(&h.in.Manifest, h.pol)
	h.pol.Contracts.UpgradeAt = release.StageCanary
	h.act.verdict = func(v analysis.Vars, interval int) analysis.Outcome {
		if v.Stage == string(release.StageCanary) && interval > 60 {
			return analysis.Fail
		}
		return analysis.Pass
	}
	var afterUpgrade uint64
	h.at(14*24*time.Hour+govDelay+30*time.Minute, func() { afterUpgrade = c.nonce(t, "sim://mainnet") })
	res := h.run()
	require.Equal(t, release.StateRolledBack, res.State, res.Reason)
	st := h.status()
	rev := contractsOf(st, "mainnet", release.OpGovRevert)
	require.Len(t, rev, 1)
	require.Equal(t, v1, rev[0].Implementation)
	require.Equal(t, v1, c.implementation(t, "sim://mainnet", proxy), "the proxy runs v1 again")
	require.Empty(t, contractsOf(st, "mainnet", release.OpRevert), "no revert with the worker's key")
	require.Equal(t, afterUpgrade+1, c.nonce(t, "sim://mainnet"), "the rollback is one transaction")
	state, _, err := safe.OpState(context.Background(), c.sims["sim://mainnet"].Client(), g.proposals[0].Timelock, g.proposals[0].Revert.ID)
	require.NoError(t, err)
	require.Equal(t, safe.OpDone, state)
}

// A production policy whose mainnet is not governed: a release with a proxy is refused at
// admission, before any transaction (the worker's key alone would upgrade it in production).
func TestProductionRefusesProxyOnUngovernedMainnet(t *testing.T) {
	c := newSimChains(t)
	h := c.contractRelease(t, "1.0.0", "CounterV1", demoArtifacts)
	h.pol.Profile = release.ProfileProduction
	res := h.run()
	require.Equal(t, release.StateFailed, res.State, res.Reason)
	require.Contains(t, res.Reason, `start refused: workflow input manifest: contracts: the release switches the proxies of Counter on mainnet chain "mainnet", which the production policy does not govern`)
	require.Zero(t, c.nonce(t, "sim://testnet"))
	require.Zero(t, c.nonce(t, "sim://mainnet"))
}

// abortWhen aborts the release at the first hour (of the next 30 days) its status satisfies ok.
func abortWhen(h *harness, ok func(release.Status) bool) {
	aborted := false
	for d := time.Hour; d < 30*24*time.Hour; d += time.Hour {
		h.at(d, func() {
			if !aborted && ok(h.status()) {
				aborted = true
				h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "abort during the governance"})
			}
		})
	}
}

// An abort while the timelock delays the upgrade: the worker proposes the cancellation of both
// operations as a Safe transaction, the owners approve it, the worker executes it once, and
// the timelock holds nothing of the release any more; status says cancelled.
func TestGovernedAbortDuringDelayCancelsThroughSafe(t *testing.T) {
	c, g, proxy, v1 := govFirstRelease(t)
	h := g.governedRelease(t)
	abortWhen(h, func(st release.Status) bool {
		return len(st.Governance) == 1 && st.Governance[0].Phase == release.GovScheduled
	})
	before := c.nonce(t, "sim://mainnet")
	res := h.run()
	require.Equal(t, release.StateAborted, res.State, res.Reason)
	st := h.status()
	require.Equal(t, v1, c.implementation(t, "sim://mainnet", proxy), "the proxy still runs v1")
	require.Len(t, st.Governance, 1)
	gu := st.Governance[0]
	require.Equal(t, release.GovCancelled, gu.Phase)
	require.Len(t, g.proposals, 1)
	require.Len(t, g.cancels, 1)
	cn := g.cancels[0]
	require.Equal(t, g.proposals[0].SafeTxHash, cn.Of)
	require.Contains(t, strings.Join(gu.Cancel, "\n"), "safeTxHash "+cn.SafeTxHash.Hex())
	require.Equal(t, g.proposals[0].SafeTx.Nonce+1, cn.SafeTx.Nonce, "the cancellation takes the Safe's next nonce")
	for _, op := range []safe.TimelockOp{g.proposals[0].Upgrade, g.proposals[0].Revert} {
		state, _, err := safe.OpState(context.Background(), c.sims["sim://mainnet"].Client(), g.proposals[0].Timelock, op.ID)
		require.NoError(t, err)
		require.Equal(t, safe.OpUnset, state, "operation %s", op.ID.Hex())
	}
	require.Len(t, contractsOf(st, "mainnet", release.OpGovExecSafe), 1)
	require.Len(t, contractsOf(st, "mainnet", release.OpGovCancel), 1)
	require.Empty(t, contractsOf(st, "mainnet", release.OpGovUpgrade))
	// the worker's mainnet transactions: implementation, execTransaction, the cancellation
	require.Equal(t, before+3, c.nonce(t, "sim://mainnet"))
	require.True(t, h.auditHas(st, "governance-cancel-proposed", "upgrade of Counter on mainnet", true, "safeTxHash "+cn.SafeTxHash.Hex()))
	require.True(t, h.auditHas(st, "governance-cancelled", "upgrade of Counter on mainnet", true, "operations "+g.proposals[0].Upgrade.ID.Hex()+" and "+g.proposals[0].Revert.ID.Hex()+" cancelled through the Safe"))
	i := slices.IndexFunc(st.Windows, func(w release.WindowStatus) bool { return w.Name == govCancelWindow("Counter") })
	require.GreaterOrEqual(t, i, 0)
	require.Equal(t, release.WindowDone, st.Windows[i].State)
}

// An abort while the owners have not approved: nothing was scheduled, but an owner could
// still execute the proposal (one more approveHash and their own sender). The release
// proposes its rejection, a Safe transaction at the same nonce to the Safe itself that does
// nothing, shows it in status (Safe, nonce, safeTxHash) as a window, the owners approve it,
// the worker executes it once, and the original Safe transaction can never execute: with the
// approvals of two owners it is refused for its nonce. The proxy stays on v1.
func TestGovernedAbortDuringApprovalsRejects(t *testing.T) {
	c, g, proxy, v1 := govFirstRelease(t)
	h := g.governedRelease(t)
	g.hold = func() {
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "abort during the owners' approvals"})
	}
	before := c.nonce(t, "sim://mainnet")
	res := h.run()
	require.Equal(t, release.StateAborted, res.State, res.Reason)
	requireRejected(t, c, g, h, proxy, v1)
	require.Equal(t, before+2, c.nonce(t, "sim://mainnet"), "the implementation and the rejection's execTransaction")
}

// requireRejected checks what an abort that rejected the proposal leaves: the rejection (at
// the proposal's nonce, to the Safe itself, no data) in status and executed once by the
// worker, the Safe's nonce used, the proposal refused for its nonce even with the approvals
// of two owners, nothing scheduled, the proxy unchanged.
func requireRejected(t *testing.T, c *simChains, g *govMainnet, h *harness, proxy, v1 string) {
	t.Helper()
	ctx := context.Background()
	b := c.sims["sim://mainnet"].Client()
	st := h.status()
	require.Equal(t, v1, c.implementation(t, "sim://mainnet", proxy))
	require.Len(t, st.Governance, 1)
	gu := st.Governance[0]
	require.Equal(t, release.GovRejected, gu.Phase, gu.Stopped)
	require.Len(t, g.proposals, 1)
	p := g.proposals[0]
	require.Len(t, g.cancels, 1)
	rj := g.cancels[0]
	require.True(t, rj.Rejection(), "%+v", rj)
	require.Equal(t, p.SafeTx.Nonce, rj.SafeTx.Nonce, "the rejection takes the proposal's nonce")
	require.Equal(t, p.SafeTx.Safe, rj.SafeTx.To)
	require.Equal(t, rj.SafeTxHash.Hex(), gu.RejectionSafeTxHash)
	rejection := strings.Join(gu.Rejection, "\n")
	for _, want := range []string{"Safe " + p.SafeTx.Safe.Hex(), fmt.Sprintf("nonce %d", p.SafeTx.Nonce), "safeTxHash " + rj.SafeTxHash.Hex(), "reject the proposal " + p.SafeTxHash.Hex()} {
		require.Contains(t, rejection, want)
	}
	require.Contains(t, gu.Stopped, "rejected on chain")
	require.Len(t, contractsOf(st, "mainnet", release.OpGovReject), 1)
	require.Empty(t, contractsOf(st, "mainnet", release.OpGovExecSafe))
	n, err := safe.Nonce(ctx, b, p.SafeTx.Safe)
	require.NoError(t, err)
	require.Equal(t, p.SafeTx.Nonce+1, n, "the rejection used the proposal's nonce")
	// the owners approve the original after all: it can never execute
	require.NoError(t, g.approveHash(ctx, p.SafeTxHash, p.SafeTx.Safe))
	_, err = safe.ExecSafeRequest(ctx, b, p, nil, "late")
	require.ErrorIs(t, err, safe.ErrNonceUsed)
	for _, op := range []safe.TimelockOp{p.Upgrade, p.Revert} {
		state, _, err := safe.OpState(ctx, b, p.Timelock, op.ID)
		require.NoError(t, err)
		require.Equal(t, safe.OpUnset, state)
	}
	require.True(t, h.auditHas(st, "governance-reject-proposed", "upgrade of Counter on mainnet", true, "safeTxHash "+rj.SafeTxHash.Hex()))
	i := slices.IndexFunc(st.Windows, func(w release.WindowStatus) bool { return w.Name == govRejectWindow("Counter") })
	require.GreaterOrEqual(t, i, 0)
	require.Equal(t, release.WindowDone, st.Windows[i].State)
}

// requireCancelledAtStop checks what an abort that found the proposal executed leaves: both
// operations cancelled through the Safe (the owners approved the cancellation, the worker
// executed it once), the proxy unchanged, and status and audit saying what happened.
func requireCancelledAtStop(t *testing.T, c *simChains, g *govMainnet, h *harness, proxy, v1 string) {
	t.Helper()
	st := h.status()
	require.Equal(t, v1, c.implementation(t, "sim://mainnet", proxy), "the proxy still runs v1")
	require.Len(t, st.Governance, 1)
	gu := st.Governance[0]
	require.Equal(t, release.GovCancelled, gu.Phase, gu.Stopped)
	require.Len(t, g.proposals, 1)
	p := g.proposals[0]
	require.Contains(t, gu.Stopped, "the Safe executed safeTxHash "+p.SafeTxHash.Hex())
	cancels := slices.DeleteFunc(slices.Clone(g.cancels), (*safe.Cancellation).Rejection)
	require.Len(t, cancels, 1, "the cancellation proposed once")
	cn := cancels[0]
	require.Equal(t, p.SafeTxHash, cn.Of)
	require.Equal(t, p.SafeTx.Nonce+1, cn.SafeTx.Nonce, "the cancellation takes the Safe's next nonce")
	require.Len(t, cn.Ops, 2, "the upgrade and the revert")
	for _, op := range []safe.TimelockOp{p.Upgrade, p.Revert} {
		state, _, err := safe.OpState(context.Background(), c.sims["sim://mainnet"].Client(), p.Timelock, op.ID)
		require.NoError(t, err)
		require.Equal(t, safe.OpUnset, state, "operation %s", op.ID.Hex())
	}
	require.Empty(t, contractsOf(st, "mainnet", release.OpGovExecSafe), "the owners executed the proposal, not the worker")
	require.Len(t, contractsOf(st, "mainnet", release.OpGovCancel), 1)
	require.Empty(t, contractsOf(st, "mainnet", release.OpGovUpgrade))
	require.True(t, h.auditHas(st, "governance-executed-at-stop", "upgrade of Counter on mainnet", true, "the Safe executed safeTxHash "+p.SafeTxHash.Hex()))
	require.True(t, h.auditHas(st, "governance-cancelled", "upgrade of Counter on mainnet", true, "cancelled through the Safe"))
}

// The abort-vs-execute race: the owners approve and one of them executes the Safe transaction
// (scheduling the upgrade and its revert) at the moment a release manager aborts the release,
// before the watch reports it. The release reads the chain, finds the operations scheduled and
// cancels them through the same Safe instead of calling the proposal withdrawn.
func TestGovernedAbortRacingOwnersExecutionCancels(t *testing.T) {
	c, g, proxy, v1 := govFirstRelease(t)
	h := g.governedRelease(t)
	g.hold = func() {
		p := g.proposals[len(g.proposals)-1]
		ctx := context.Background()
		require.NoError(t, g.approveHash(ctx, p.SafeTxHash, p.SafeTx.Safe))
		require.NoError(t, g.ownerExecutes(ctx, p))
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "abort as the owners execute"})
	}
	before := c.nonce(t, "sim://mainnet")
	res := h.run()
	require.Equal(t, release.StateAborted, res.State, res.Reason)
	requireCancelledAtStop(t, c, g, h, proxy, v1)
	// the worker's mainnet transactions: the implementation and the cancellation
	require.Equal(t, before+2, c.nonce(t, "sim://mainnet"))
}

// An abort after the owners' approvals met the threshold but before anyone executed the Safe
// transaction: anyone still may, so the release proposes its rejection; while the owners
// are asked to approve the rejection, one of them executes the proposal instead. The
// rejection can no longer execute (its nonce is used); the release reads the chain, finds
// the operations scheduled and cancels them through the Safe.
func TestGovernedAbortOfApprovedProposalRacingRejectionCancels(t *testing.T) {
	c, g, proxy, v1 := govFirstRelease(t)
	h := g.governedRelease(t)
	g.hold = func() {
		p := g.proposals[len(g.proposals)-1]
		require.NoError(t, g.approveHash(context.Background(), p.SafeTxHash, p.SafeTx.Safe))
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "abort after the approvals"})
	}
	g.onReject = func(ctx context.Context) error { return g.ownerExecutes(ctx, g.proposals[0]) }
	res := h.run()
	require.Equal(t, release.StateAborted, res.State, res.Reason)
	requireCancelledAtStop(t, c, g, h, proxy, v1)
	st := h.status()
	require.Len(t, g.cancels, 2, "the rejection, then the cancellation")
	require.True(t, g.cancels[0].Rejection())
	require.Equal(t, g.cancels[0].SafeTxHash.Hex(), st.Governance[0].RejectionSafeTxHash)
	require.Empty(t, contractsOf(st, "mainnet", release.OpGovReject), "the rejection never executed: the proposal took its nonce")
	require.True(t, h.auditHas(st, "governance-reject-proposed", "upgrade of Counter on mainnet", true, "reject the proposal "+g.proposals[0].SafeTxHash.Hex()))
}

// The owners execute the approved Safe transaction themselves (anyone may once the threshold
// is met), before the watch sees the approvals or between the watch and the worker's own
// execTransaction: the operations are scheduled all the same, the worker sends no
// execTransaction (a second one would be refused: the nonce is used) and the release carries
// on to the upgrade instead of failing.
func TestGovernedOwnersExecuteThemselves(t *testing.T) {
	for _, when := range []string{"before", "after"} {
		t.Run(when, func(t *testing.T) {
			c, g, proxy, _ := govFirstRelease(t)
			h := g.governedRelease(t)
			g.ownersExecute = when
			before := c.nonce(t, "sim://mainnet")
			res := h.run()
			require.Equal(t, release.StateSucceeded, res.State, res.Reason)
			st := h.status()
			v2 := contractsOf(st, "mainnet", release.OpDeploy)[0].Address
			require.Equal(t, v2, c.implementation(t, "sim://mainnet", proxy))
			require.Empty(t, contractsOf(st, "mainnet", release.OpGovExecSafe), "the owners executed it, not the worker")
			require.Len(t, contractsOf(st, "mainnet", release.OpGovUpgrade), 1)
			require.Equal(t, before+2, c.nonce(t, "sim://mainnet"), "the worker's mainnet transactions: implementation, execute")
			require.Equal(t, release.GovUpgraded, st.Governance[0].Phase)
			require.True(t, h.auditHas(st, "governance-executed-by-owners", "upgrade of Counter on mainnet", true, "executed without the worker"))
		})
	}
}

// eip712Sign is an owner's wallet signing a safeTxHash: 65 bytes r ‖ s ‖ v, v 27 or 28.
func eip712Sign(t *testing.T, priv *ecdsa.PrivateKey, hash common.Hash) string {
	t.Helper()
	sig, err := crypto.Sign(hash[:], priv)
	require.NoError(t, err)
	sig[64] += 27
	return hexutil.Encode(sig)
}

// The second approval path: two owners hand in EIP-712 signatures of the proposal's
// safeTxHash through the signed-command path (safe-sign) instead of approveHash on chain. The
// workflow checks each recovers to a current owner and refuses, with the reason, a signature
// by a key that is not an owner, one over other bytes than the safeTxHash, and one for a hash
// no proposal has; the threshold is met by the signatures, and the worker executes the Safe
// transaction with them packed into execTransaction.
func TestGovernedThresholdByOwnerSignatures(t *testing.T) {
	c, g, proxy, _ := govFirstRelease(t)
	h := g.governedRelease(t)
	stranger, err := crypto.GenerateKey()
	require.NoError(t, err)
	g.sign = func(p *safe.Proposal) {
		o0, o1 := g.priv[g.approvers[0].Address], g.priv[g.approvers[1].Address]
		send := func(hash common.Hash, sig string) {
			h.signal(release.SignalSafeSign, release.Command{Actor: "rm-ada", SafeTxHash: hash.Hex(), SafeSignature: sig})
		}
		send(p.SafeTxHash, eip712Sign(t, stranger, p.SafeTxHash))                          // not an owner
		send(p.SafeTxHash, eip712Sign(t, o0, crypto.Keccak256Hash([]byte("other bytes")))) // over other bytes
		send(crypto.Keccak256Hash([]byte("no such proposal")), eip712Sign(t, o0, p.SafeTxHash))
		send(p.SafeTxHash, eip712Sign(t, o0, p.SafeTxHash))
		send(p.SafeTxHash, eip712Sign(t, o0, p.SafeTxHash)) // twice
		send(p.SafeTxHash, eip712Sign(t, o1, p.SafeTxHash))
	}
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State, res.Reason)
	st := h.status()
	v2 := contractsOf(st, "mainnet", release.OpDeploy)[0].Address
	require.Equal(t, v2, c.implementation(t, "sim://mainnet", proxy))
	require.Len(t, contractsOf(st, "mainnet", release.OpGovExecSafe), 1, "the worker executed it with the signatures")
	p := g.proposals[0]
	approved, _, err := safe.Approvals(context.Background(), c.sims["sim://mainnet"].Client(), p.SafeTx.Safe, p.SafeTxHash)
	require.NoError(t, err)
	require.Empty(t, approved, "no approveHash on chain: the signatures alone met the threshold")
	require.True(t, strings.HasPrefix(st.Governance[0].Approvals, "2 of 2: "), st.Governance[0].Approvals)

	var verdicts []string
	for _, a := range st.Audit {
		if a.Action == release.SignalSafeSign {
			verdicts = append(verdicts, fmt.Sprintf("%v %s", a.Accepted, a.Reason))
		}
	}
	require.Len(t, verdicts, 6, verdicts)
	require.Contains(t, verdicts[0], "false refused: the signature recovers to "+crypto.PubkeyToAddress(stranger.PublicKey).Hex()+", who is not an owner of Safe")
	require.Contains(t, verdicts[1], "false refused: the signature recovers to ")
	require.Contains(t, verdicts[1], "signed by another key, or over other bytes than safeTxHash "+p.SafeTxHash.Hex())
	require.Contains(t, verdicts[2], "false refused: no governed proposal awaits approvals with safeTxHash")
	require.Equal(t, "true signature of safeTxHash "+p.SafeTxHash.Hex()+" by owner "+g.approvers[0].Address.Hex()+" (1 handed in)", verdicts[3])
	require.Equal(t, "false refused: owner "+g.approvers[0].Address.Hex()+" already signed safeTxHash "+p.SafeTxHash.Hex(), verdicts[4])
	require.Equal(t, "true signature of safeTxHash "+p.SafeTxHash.Hex()+" by owner "+g.approvers[1].Address.Hex()+" (2 handed in)", verdicts[5])
}

// The Safe refuses the worker's execTransaction because the approvals the watch counted no
// longer add up at execution: right after the watch reported 2 of 2, a module (no Safe nonce
// used) removes one of the approving owners. The refusal is not retried as it is, and not
// settled by the way out round after round: the release goes back to waiting for approvals,
// status and the audit log say why (Safe, nonce, safeTxHash, 1 of 2 approvals by current
// owners), and then either
//   - the third owner approves: the same Safe transaction executes once (under an operation
//     key of its own) and the upgrade lands; or
//   - a release manager aborts meanwhile: the release ends aborted with the proposal
//     withdrawn, the proxy on v1 and nothing more sent.
//
// Either way the exec-safe step was signed at most once per round, never in a loop.
func TestGovernedExecRefusedWaitsForApprovalsAgain(t *testing.T) {
	for _, then := range []string{"third owner approves", "abort"} {
		t.Run(then, func(t *testing.T) {
			c, g, proxy, v1 := govFirstRelease(t)
			g.withModule(t)
			h := g.governedRelease(t)
			g.ownersWait = func(ctx context.Context, n int, req release.GovernanceWatchRequest, p *safe.Proposal) (release.GovernanceProgress, error) {
				switch {
				case n == 0:
					if err := g.approveHash(ctx, p.SafeTxHash, p.SafeTx.Safe); err != nil {
						return release.GovernanceProgress{}, err
					}
					pr, err := g.c.act.Watch(ctx, req)
					if err == nil {
						err = g.moduleRemoves(ctx, g.approvers[1].Address)
					}
					return pr, err
				case then == "abort":
					g.mu.Lock()
					g.approvers = []*chain.Key{g.owners[0], g.owners[2]} // the current owners approve the rejection
					g.mu.Unlock()
					h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "abort while the owners approve again"})
					<-ctx.Done()
					return release.GovernanceProgress{}, ctx.Err()
				}
				third := g.owners[2]
				data, err := safe.ApproveHashData(p.SafeTxHash)
				if err == nil {
					to := p.SafeTx.Safe
					_, err = g.c.mainnet().send(ctx, third, g.ownerNS, chain.TxRequest{OpKey: "approve/" + p.SafeTxHash.Hex() + "/third", To: &to, Data: data})
				}
				if err != nil {
					return release.GovernanceProgress{}, err
				}
				return g.c.act.Watch(ctx, req)
			}
			var signs []string
			h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
				var tx release.ContractTx
				if info.ActivityType.Name == release.ActivityContractsSign && args.Get(&tx) == nil && tx.Op == release.OpGovExecSafe {
					signs = append(signs, tx.OpKey)
				}
			})
			before := c.nonce(t, "sim://mainnet")
			res := h.run()
			st := h.status()
			require.Len(t, g.proposals, 1)
			p := g.proposals[0]
			require.Len(t, st.Governance, 1)
			gu := st.Governance[0]
			for _, want := range []string{"Safe " + p.SafeTx.Safe.Hex(), "safeTxHash " + p.SafeTxHash.Hex(), fmt.Sprintf("(nonce %d)", p.SafeTx.Nonce), "1 of 2 approvals by current owners", "waiting for approvals again"} {
				require.Contains(t, gu.Refused, want)
			}
			require.True(t, h.auditHas(st, "governance-exec-refused", "upgrade of Counter on mainnet", true, "1 of 2 approvals by current owners"))
			if then == "abort" {
				require.Empty(t, contractsOf(st, "mainnet", release.OpGovExecSafe))
				require.Equal(t, release.StateAborted, res.State, res.Reason)
				requireRejected(t, c, g, h, proxy, v1)
				require.Len(t, signs, 1, "the refused execution was tried once: %v", signs)
				require.Equal(t, before+2, c.nonce(t, "sim://mainnet"), "the implementation and the rejection")
				return
			}
			require.Equal(t, release.StateSucceeded, res.State, res.Reason)
			require.Equal(t, release.GovUpgraded, gu.Phase)
			require.Equal(t, contractsOf(st, "mainnet", release.OpDeploy)[0].Address, c.implementation(t, "sim://mainnet", proxy))
			require.Len(t, contractsOf(st, "mainnet", release.OpGovExecSafe), 1)
			require.Len(t, signs, 2, "one refused round, one executed: %v", signs)
			require.NotEqual(t, signs[0], signs[1], "the second round signs under a key of its own")
			require.True(t, strings.HasSuffix(signs[1], "/round-1"), signs[1])
			require.ElementsMatch(t, []string{g.approvers[0].Address.Hex(), g.owners[2].Address.Hex()}, strings.Split(strings.TrimPrefix(gu.Approvals, "2 of 2: "), ", "))
			// the worker's mainnet transactions: implementation, execTransaction, execute
			require.Equal(t, before+3, c.nonce(t, "sim://mainnet"))
			i := slices.IndexFunc(st.Windows, func(w release.WindowStatus) bool { return w.Name == govApprovalWindow("Counter") })
			require.GreaterOrEqual(t, i, 0)
			require.Equal(t, release.WindowDone, st.Windows[i].State)
			require.Contains(t, st.Windows[i].Note, "again, until the approvals of current owners meet")
		})
	}
}
