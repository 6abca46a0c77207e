package workflows

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/shipgate/shipgate/activities"
	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

// demoArtifacts is the committed solc standard-JSON output of the demo contracts.
var demoArtifacts, _ = filepath.Abs(filepath.Join("..", "deployments", "examples", "demo", "contracts", "artifacts", "standard-output.json"))

// simChains are two simulated chains, "testnet" and "mainnet", with distinct chain ids and one
// funded deployer, behind the real contract activities with their own nonce store and records:
// what a worker has, minus the network.
type simChains struct {
	sims map[string]*simulated.Backend // by RPC name
	key  *chain.Key
	act  *activities.Contracts
	// mining serializes the blocks sealed on the simulated chains. Activities run side by
	// side in the test environment, and go-ethereum's simulated beacon does not guard its
	// sealing: its transaction pool answers one Sync at a time, and a second Commit at the same
	// moment took the first one's answer, leaving that Commit (and its activity) waiting
	// forever (TestGovernedThresholdByOwnerSignatures, 1 run in about 20 under load).
	mining sync.Mutex
}

// commit seals a block on sim.
func (c *simChains) commit(sim *simulated.Backend) {
	c.mining.Lock()
	defer c.mining.Unlock()
	sim.Commit()
}

// adjustTime seals a block on sim d later than its head.
func (c *simChains) adjustTime(sim *simulated.Backend, d time.Duration) error {
	c.mining.Lock()
	defer c.mining.Unlock()
	return sim.AdjustTime(d)
}

func newSimChains(t *testing.T) *simChains {
	priv, err := crypto.GenerateKey()
	require.NoError(t, err)
	c := &simChains{sims: map[string]*simulated.Backend{}, key: chain.NewKey("DEPLOYER", priv)}
	for name, id := range map[string]int64{"sim://testnet": 31337, "sim://mainnet": 31338} {
		c.sims[name] = newSim(t, priv, id)
	}
	dir := t.TempDir()
	c.act = &activities.Contracts{
		Store:   evstore.Dir{Root: filepath.Join(dir, "evidence")},
		Nonces:  &chain.NonceStore{Dir: filepath.Join(dir, "nonces")},
		Records: &chain.RecordStore{Dir: filepath.Join(dir, "records")},
		Dial: func(ctx context.Context, rpc string, id uint64) (chain.Backend, error) {
			sim, ok := c.sims[rpc]
			if !ok {
				return nil, fmt.Errorf("no chain at %s", rpc)
			}
			b := sim.Client()
			return b, chain.CheckChainID(ctx, b, id)
		},
		Key: func(name string) (*chain.Key, error) {
			if name != "DEPLOYER" {
				return nil, fmt.Errorf("no key %s", name)
			}
			return c.key, nil
		},
		PollInterval: time.Millisecond,
		// every poll mines a block on both chains: confirmations come as fast as they are read
		OnPoll: func() {
			for _, s := range c.sims {
				c.commit(s)
			}
		},
	}
	return c
}

func newSim(t *testing.T, priv *ecdsa.PrivateKey, chainID int64) *simulated.Backend {
	alloc := types.GenesisAlloc{crypto.PubkeyToAddress(priv.PublicKey): {Balance: new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))}}
	sim := simulated.NewBackend(alloc, func(_ *node.Config, ec *ethconfig.Config) {
		cfg := *ec.Genesis.Config
		cfg.ChainID = big.NewInt(chainID)
		ec.Genesis.Config = &cfg
	})
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func (c *simChains) register(h *harness) {
	for name, f := range map[string]any{
		release.ActivityContractsPlan: c.act.Plan, release.ActivityContractsSign: c.act.Sign,
		release.ActivityContractsBroadcast: c.act.Broadcast, release.ActivityContractsConfirm: c.act.Confirm,
		release.ActivityContractsRecord: c.act.Record,
	} {
		h.env.RegisterActivityWithOptions(f, activity.RegisterOptions{Name: name})
	}
}

// nonce is how many transactions the deployer sent on a chain.
func (c *simChains) nonce(t *testing.T, rpc string) uint64 {
	n, err := c.sims[rpc].Client().NonceAt(context.Background(), c.key.Address, nil)
	require.NoError(t, err)
	return n
}

func (c *simChains) implementation(t *testing.T, rpc, proxy string) string {
	impl, err := chain.ReadImplementation(context.Background(), c.sims[rpc].Client(), common.HexToAddress(proxy))
	require.NoError(t, err)
	return impl.Hex()
}

// contractRelease is a release of the demo counter: implementation artifact name, behind a
// DemoProxy initialised with (deployer, 5) on its first release.
func (c *simChains) contractRelease(t *testing.T, version, impl, artifact string) *harness {
	// the starter's part: the artifact goes to the evidence store, the input holds its blob
	blob, err := evstore.PutFile(context.Background(), c.act.Store, filepath.Base(artifact), artifact)
	require.NoError(t, err)
	h := newHarness(t, func(m *release.Manifest, p *release.Policy) {
		m.Version = version
		m.Contracts = []release.Contract{{Name: "Counter", Artifact: blob.Name, ArtifactBlob: &blob, ContractName: impl,
			Proxy: &release.Proxy{Kind: "uups", Initializer: "initialize", InitArgs: []string{c.key.Address.Hex(), "5"},
				Artifact: blob.Name, ArtifactBlob: &blob, ContractName: "DemoProxy"}}}
		p.Chains = []release.Chain{
			{Name: "testnet", Role: "testnet", ChainID: 31337, RPC: "sim://testnet", Confirmations: 2, Deployer: "DEPLOYER"},
			{Name: "mainnet", Role: "mainnet", ChainID: 31338, RPC: "sim://mainnet", Confirmations: 3, Deployer: "DEPLOYER"},
		}
		p.Contracts.UpgradeAt = release.StageProduction
		// dev: a production policy switches proxies only on a governed mainnet
		// (release.GovernedMainnet); the governed tests add the governance
		p.Profile = release.ProfileDev
	})
	c.register(h)
	h.approveEvery(time.Minute, 30*time.Minute)
	return h
}

func contractsOf(st release.Status, chainName, op string) []release.ContractDeployment {
	var out []release.ContractDeployment
	for _, d := range st.Contracts {
		if d.Chain == chainName && d.Op == op {
			out = append(out, d)
		}
	}
	return out
}

func TestContractsFirstReleaseThenUpgrade(t *testing.T) {
	c := newSimChains(t)

	h1 := c.contractRelease(t, "1.0.0", "CounterV1", demoArtifacts)
	require.Equal(t, release.StateSucceeded, h1.run().State)
	st1 := h1.status()
	for _, ch := range []string{"testnet", "mainnet"} {
		require.Len(t, contractsOf(st1, ch, release.OpDeploy), 1, ch)
		require.Len(t, contractsOf(st1, ch, release.OpDeployProxy), 1, ch)
	}
	// exactly one transaction per step: implementation and proxy on each chain
	require.Equal(t, uint64(2), c.nonce(t, "sim://testnet"))
	require.Equal(t, uint64(2), c.nonce(t, "sim://mainnet"))
	proxy := contractsOf(st1, "mainnet", release.OpDeployProxy)[0]
	implV1 := contractsOf(st1, "mainnet", release.OpDeploy)[0]
	require.Equal(t, implV1.Address, proxy.Implementation)
	require.Equal(t, implV1.Address, c.implementation(t, "sim://mainnet", proxy.Address))
	require.NotEmpty(t, proxy.CodeHash)
	require.Equal(t, uint64(3), contractsOf(st1, "mainnet", release.OpDeploy)[0].Confirmations)
	require.Contains(t, st1.RollbackPlan.Contracts[0], "cannot be rolled back on chain")

	h2 := c.contractRelease(t, "2.0.0", "CounterV2", demoArtifacts)
	var beforeUpgrade release.Status
	var implDuringCanary string
	// the canary deployed the v2 implementation; the proxy still runs v1 until production
	h2.at(14*24*time.Hour+time.Hour, func() {
		beforeUpgrade = h2.status()
		implDuringCanary = c.implementation(t, "sim://mainnet", proxy.Address)
	})
	require.Equal(t, release.StateSucceeded, h2.run().State)
	st2 := h2.status()
	require.Equal(t, release.StageCanary, beforeUpgrade.Stage)
	require.Len(t, contractsOf(beforeUpgrade, "mainnet", release.OpDeploy), 1)
	require.Empty(t, contractsOf(beforeUpgrade, "mainnet", release.OpUpgrade))
	require.Equal(t, implV1.Address, implDuringCanary, "the proxy must still run v1 during the canary")
	require.Contains(t, strings.Join(beforeUpgrade.RollbackPlan.Contracts, "\n"), "Counter on mainnet: proxy "+proxy.Address+" back to implementation "+implV1.Address)

	implV2 := contractsOf(st2, "mainnet", release.OpDeploy)[0].Address
	up := contractsOf(st2, "mainnet", release.OpUpgrade)
	require.Len(t, up, 1)
	require.Equal(t, implV2, up[0].Implementation)
	require.Equal(t, implV2, c.implementation(t, "sim://mainnet", proxy.Address))
	require.Equal(t, uint64(4), c.nonce(t, "sim://testnet"))
	require.Equal(t, uint64(4), c.nonce(t, "sim://mainnet"))
	require.True(t, h2.auditHas(st2, "contract-upgrade", "upgrade Counter on mainnet", true, "implementation "+implV2))
}

func TestContractsRollbackRevertsProxy(t *testing.T) {
	c := newSimChains(t)
	h1 := c.contractRelease(t, "1.0.0", "CounterV1", demoArtifacts)
	require.Equal(t, release.StateSucceeded, h1.run().State)
	st1 := h1.status()
	proxyT, implT1 := contractsOf(st1, "testnet", release.OpDeployProxy)[0].Address, contractsOf(st1, "testnet", release.OpDeploy)[0].Address
	proxyM, implM1 := contractsOf(st1, "mainnet", release.OpDeployProxy)[0].Address, contractsOf(st1, "mainnet", release.OpDeploy)[0].Address

	h2 := c.contractRelease(t, "2.0.0", "CounterV2", demoArtifacts)
	// 14 d soak + 24 h canary: production 5 % with the proxy on v2; roll back an hour into it
	h2.at(14*24*time.Hour+25*time.Hour+time.Hour, func() {
		st := h2.status()
		require.Equal(t, release.StageProduction, st.Stage)
		require.Len(t, contractsOf(st, "mainnet", release.OpUpgrade), 1)
		h2.signal(release.SignalRollback, release.Command{Actor: "rm-ada", Reason: "users report wrong balances"})
	})
	res := h2.run()
	require.Equal(t, release.StateRolledBack, res.State)
	st2 := h2.status()
	require.Equal(t, implM1, c.implementation(t, "sim://mainnet", proxyM))
	require.Equal(t, implT1, c.implementation(t, "sim://testnet", proxyT))
	for _, ch := range []string{"testnet", "mainnet"} {
		rev := contractsOf(st2, ch, release.OpRevert)
		require.Len(t, rev, 1, ch)
	}
	require.True(t, h2.auditHas(st2, "contract-revert", "revert Counter on mainnet", true, "implementation "+implM1))
	// v2 on both chains: implementation + upgrade + revert
	require.Equal(t, uint64(5), c.nonce(t, "sim://testnet"))
	require.Equal(t, uint64(5), c.nonce(t, "sim://mainnet"))
}

func TestContractsIncompatibleLayoutRefused(t *testing.T) {
	c := newSimChains(t)
	require.Equal(t, release.StateSucceeded, c.contractRelease(t, "1.0.0", "CounterV1", demoArtifacts).run().State)
	sent := c.nonce(t, "sim://testnet")
	h := c.contractRelease(t, "2.0.0", "CounterV3Bad", demoArtifacts)
	res := h.run()
	require.Equal(t, release.StateFailed, res.State)
	require.Equal(t, release.StageTestnet, res.Stage)
	require.Contains(t, res.Reason, "count")
	require.Contains(t, res.Reason, "refused")
	require.Equal(t, sent, c.nonce(t, "sim://testnet"), "nothing may be sent for a refused upgrade")
}

// The artifact the release was started with is the one mainnet gets: a file rebuilt on the
// release manager's disk after the start changes nothing (the worker reads the stored blob),
// and a blob changed inside the store is refused at the canary, before anything is sent.
func TestContractsChangedAfterTestnetRefusedAtCanary(t *testing.T) {
	c := newSimChains(t)
	art := filepath.Join(t.TempDir(), "standard-output.json")
	orig, err := os.ReadFile(demoArtifacts)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(art, orig, 0o644))
	h := c.contractRelease(t, "1.0.0", "CounterV1", art)
	blob := evstore.NewBlob("", orig)
	stored := filepath.Join(c.act.Store.(evstore.Dir).Root, "sha256", blob.SHA256[:2], blob.SHA256)
	// during the soak someone rebuilds "CounterV1" with other code (here: v2's), on disk and
	// in the store
	h.at(24*time.Hour, func() {
		changed := strings.Replace(string(orig), `"CounterV1":`, `"CounterV1Old":`, 1)
		changed = strings.Replace(changed, `"CounterV2":`, `"CounterV1":`, 1)
		require.NoError(t, os.WriteFile(art, []byte(changed), 0o644))
		require.NoError(t, os.WriteFile(stored, []byte(changed), 0o644))
	})
	res := h.run()
	require.Equal(t, release.StateFailed, res.State)
	require.Equal(t, release.StageCanary, res.Stage)
	require.Contains(t, res.Reason, "stored blob does not match its reference")
	require.Equal(t, uint64(0), c.nonce(t, "sim://mainnet"), "nothing may reach mainnet")
}

func TestContractsWrongChainIDIsAHardError(t *testing.T) {
	c := newSimChains(t)
	h := c.contractRelease(t, "1.0.0", "CounterV1", demoArtifacts)
	h.pol.Chains[0].ChainID = 31339
	res := h.run()
	require.Equal(t, release.StateFailed, res.State)
	require.Contains(t, res.Reason, "31339")
	require.Equal(t, uint64(0), c.nonce(t, "sim://testnet"))
}

// A canary whose analysis fails is rolled back with no one on the path, and the proxy the
// canary switched (upgradeAt: canary) goes back to the implementation it ran before.
func TestAutomaticRollbackRevertsTheCanarysProxy(t *testing.T) {
	c := newSimChains(t)
	require.Equal(t, release.StateSucceeded, c.contractRelease(t, "1.0.0", "CounterV1", demoArtifacts).run().State)
	proxy := ""
	h := c.contractRelease(t, "2.0.0", "CounterV2", demoArtifacts)
	withAnalysis("")(&h.in.Manifest, h.pol)
	h.pol.Contracts.UpgradeAt = release.StageCanary
	h.act.verdict = func(v analysis.Vars, interval int) analysis.Outcome {
		if v.Stage == string(release.StageCanary) && interval > 60 {
			return analysis.Fail
		}
		return analysis.Pass
	}
	var during release.Status
	h.at(14*24*time.Hour+30*time.Minute, func() {
		during = h.status()
		up := contractsOf(during, "mainnet", release.OpUpgrade)
		require.Len(t, up, 1, "the canary switched the proxy")
		proxy = up[0].Address
	})
	res := h.run()
	require.Equal(t, release.StateRolledBack, res.State)
	require.Equal(t, release.StageCanary, res.Stage)
	require.Contains(t, res.Reason, "analysis of canary-watch failed")
	st := h.status()
	rev := contractsOf(st, "mainnet", release.OpRevert)
	require.Len(t, rev, 1)
	prev := strings.TrimPrefix(during.RollbackPlan.Contracts[1], "Counter on mainnet: proxy "+proxy+" back to implementation ")
	prev = strings.Fields(prev)[0]
	require.Equal(t, prev, rev[0].Implementation)
	require.Equal(t, prev, c.implementation(t, "sim://mainnet", proxy), "the proxy runs v1 again")
	require.Len(t, contractsOf(st, "testnet", release.OpRevert), 1)
}

// A cancellation while a proxy switch is in flight (its transaction signed and broadcast, its
// confirmation awaited) does not leave the proxy switched: the way back settles the switch
// (the same signed bytes) and reverts it. Before versionSettleSteps the release ended
// canceled with the testnet proxy on v2 (the chaos suite's cancel-switch scenario).
func TestCancellationDuringAProxySwitchRevertsIt(t *testing.T) {
	c := newSimChains(t)
	h1 := c.contractRelease(t, "1.0.0", "CounterV1", demoArtifacts)
	require.Equal(t, release.StateSucceeded, h1.run().State)
	st1 := h1.status()
	proxyT, implT1 := contractsOf(st1, "testnet", release.OpDeployProxy)[0].Address, contractsOf(st1, "testnet", release.OpDeploy)[0].Address

	h2 := c.contractRelease(t, "2.0.0", "CounterV2", demoArtifacts)
	canceled := false
	h2.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		if canceled || info.ActivityType.Name != release.ActivityContractsConfirm {
			return
		}
		var step release.ContractTxStep
		require.NoError(t, args.Get(&step))
		if step.Tx.Op == release.OpUpgrade && step.Tx.Chain.Name == "testnet" {
			canceled = true
			h2.env.CancelWorkflow()
		}
	})
	h2.execute()
	require.True(t, canceled, "the upgrade's confirmation never started")
	err := h2.env.GetWorkflowError()
	require.True(t, temporal.IsCanceledError(err), "%v", err)
	require.Equal(t, release.StateAborted, h2.status().State)
	require.Equal(t, implT1, c.implementation(t, "sim://testnet", proxyT), "the proxy must be back on v1")
	st2 := h2.status()
	require.Len(t, contractsOf(st2, "testnet", release.OpUpgrade), 1, "the settled switch is listed")
	require.Len(t, contractsOf(st2, "testnet", release.OpRevert), 1)
	// v1 (implementation + proxy), then v2's implementation, its one upgrade and the revert
	require.Equal(t, uint64(5), c.nonce(t, "sim://testnet"))
}

// A cancellation between a step's signing and its broadcast does not abandon the signed
// transaction (every later transaction of the deployer on that chain would wait behind its
// nonce): the way back settles the step with the same signed bytes. The chaos suite found it:
// a release canceled in the testnet left nonce 2 reserved and never sent, and the next
// release's deploy waited behind it forever.
func TestCancellationAfterSigningSettlesTheStep(t *testing.T) {
	c := newSimChains(t)
	h1 := c.contractRelease(t, "1.0.0", "CounterV1", demoArtifacts)
	require.Equal(t, release.StateSucceeded, h1.run().State)

	h2 := c.contractRelease(t, "2.0.0", "CounterV2", demoArtifacts)
	canceled := false
	h2.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		if canceled || info.ActivityType.Name != release.ActivityContractsBroadcast {
			return
		}
		var step release.ContractTxStep
		require.NoError(t, args.Get(&step))
		if step.Tx.Op == release.OpDeploy && step.Tx.Chain.Name == "testnet" {
			canceled = true
			h2.env.CancelWorkflow()
		}
	})
	h2.execute()
	require.True(t, canceled, "the deploy's broadcast never started")
	require.True(t, temporal.IsCanceledError(h2.env.GetWorkflowError()))
	st := h2.status()
	require.Equal(t, release.StateAborted, st.State)
	require.Len(t, contractsOf(st, "testnet", release.OpDeploy), 1, "the settled deploy is listed")
	// the signed deploy was sent and mined: nothing waits behind its nonce
	require.Equal(t, uint64(3), c.nonce(t, "sim://testnet"))

	// and the next release's transactions go through
	h3 := c.contractRelease(t, "2.1.0", "CounterV2", demoArtifacts)
	require.Equal(t, release.StateSucceeded, h3.run().State)
	require.Equal(t, uint64(5), c.nonce(t, "sim://testnet"))
}
