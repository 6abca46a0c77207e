package safe

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"

	"github.com/shipgate/shipgate/internal/chain"
)

// govChain is a simulated chain with the real governance contracts deployed: Safe v1.5.0
// (singleton + proxy factory, a 2-of-3 Safe proxy), MultiSendCallOnly, OpenZeppelin's
// TimelockController (proposer and canceller: the Safe; executor: the worker; no admin) and
// the demo's UUPS Counter behind an ERC1967 proxy owned by the timelock.
type govChain struct {
	sim      *simulated.Backend
	client   simulated.Client
	worker   *chain.Key
	nonces   *chain.NonceStore
	owners   []*chain.Key // sorted by address
	stranger *chain.Key
	ownerNS  *chain.NonceStore
	gov      Governance
	delay    uint64
	proxy    common.Address
	v1, v2   common.Address
	counter  *chain.Artifact
	v2Art    *chain.Artifact
	privs    map[common.Address]*ecdsa.PrivateKey
	gas      map[string]uint64 // gas used by each governed step and approval, for the measurements
}

const testDelay = 3600

var demoArtifacts = filepath.Join("..", "..", "..", "deployments", "examples", "demo", "contracts", "artifacts", "standard-output.json")

func newKey(tb testing.TB, name string) (*chain.Key, *ecdsa.PrivateKey) {
	tb.Helper()
	priv, err := crypto.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return chain.NewKey(name, priv), priv
}

func newGovChain(tb testing.TB) *govChain {
	tb.Helper()
	c := &govChain{delay: testDelay, privs: map[common.Address]*ecdsa.PrivateKey{}, gas: map[string]uint64{}}
	c.worker, _ = newKey(tb, "deployer")
	var priv *ecdsa.PrivateKey
	c.stranger, priv = newKey(tb, "stranger")
	c.privs[c.stranger.Address] = priv
	for i := range 3 {
		k, priv := newKey(tb, "owner"+string(rune('a'+i)))
		c.privs[k.Address] = priv
		c.owners = append(c.owners, k)
	}
	slices.SortFunc(c.owners, func(a, b *chain.Key) int { return a.Address.Cmp(b.Address) })
	alloc := types.GenesisAlloc{}
	eth := new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))
	for _, k := range append([]*chain.Key{c.worker, c.stranger}, c.owners...) {
		alloc[k.Address] = types.Account{Balance: eth}
	}
	c.sim = simulated.NewBackend(alloc)
	tb.Cleanup(func() { _ = c.sim.Close() })
	c.client = c.sim.Client()
	c.nonces = &chain.NonceStore{Dir: tb.TempDir()}
	c.ownerNS = &chain.NonceStore{Dir: tb.TempDir()}

	singleton := c.deploy(tb, "safe-singleton", mustArtifact(NameSafe))
	factory := c.deploy(tb, "safe-factory", mustArtifact(NameProxyFactory))
	c.gov.MultiSend = c.deploy(tb, "multisend", mustArtifact(NameMultiSend))
	c.gov.ChainID = 1337
	ownerAddrs := []common.Address{c.owners[0].Address, c.owners[1].Address, c.owners[2].Address}
	c.gov.Safe = c.createSafe(tb, singleton, factory, ownerAddrs, 2)
	c.gov.Timelock = c.deploy(tb, "timelock", mustArtifact(NameTimelock),
		new(big.Int).SetUint64(c.delay), []common.Address{c.gov.Safe}, []common.Address{c.worker.Address}, common.Address{})

	var err error
	if c.counter, err = chain.LoadArtifact(demoArtifacts, "CounterV1"); err != nil {
		tb.Fatal(err)
	}
	if c.v2Art, err = chain.LoadArtifact(demoArtifacts, "CounterV2"); err != nil {
		tb.Fatal(err)
	}
	proxyArt, err := chain.LoadArtifact(demoArtifacts, "DemoProxy")
	if err != nil {
		tb.Fatal(err)
	}
	c.v1 = c.deploy(tb, "counter-v1", c.counter)
	c.v2 = c.deploy(tb, "counter-v2", c.v2Art)
	init, err := c.counter.ABI.Pack("initialize", c.gov.Timelock, big.NewInt(7))
	if err != nil {
		tb.Fatal(err)
	}
	c.proxy = c.deploy(tb, "counter-proxy", proxyArt, c.v1, init)
	return c
}

func (c *govChain) waitOpts() chain.WaitOptions {
	return chain.WaitOptions{Confirmations: 1, PollInterval: time.Millisecond, OnProgress: func(chain.WaitProgress) { c.sim.Commit() }}
}

// send signs with key under store, broadcasts and waits: the workflow's three activities.
func (c *govChain) send(tb testing.TB, key *chain.Key, store *chain.NonceStore, req chain.TxRequest) (*chain.SignedTx, *chain.Confirmed) {
	tb.Helper()
	ctx := context.Background()
	s, err := chain.SignTx(ctx, c.client, key, store, req)
	if err != nil {
		tb.Fatalf("sign %s: %v", req.OpKey, err)
	}
	if _, err := chain.Broadcast(ctx, c.client, s.Raw); err != nil {
		tb.Fatalf("broadcast %s: %v", req.OpKey, err)
	}
	conf, err := chain.WaitConfirmed(ctx, c.client, s.Raw, c.waitOpts())
	if err != nil {
		tb.Fatalf("wait %s: %v", req.OpKey, err)
	}
	return s, conf
}

func (c *govChain) deploy(tb testing.TB, opKey string, a *chain.Artifact, args ...any) common.Address {
	tb.Helper()
	enc, err := a.ABI.Pack("", args...)
	if err != nil {
		tb.Fatalf("constructor of %s: %v", a.Name, err)
	}
	s, _ := c.send(tb, c.worker, c.nonces, chain.TxRequest{OpKey: opKey, Data: append(slices.Clone(a.Bytecode), enc...)})
	return *s.ContractAddress
}

func (c *govChain) createSafe(tb testing.TB, singleton, factory common.Address, owners []common.Address, threshold int64) common.Address {
	tb.Helper()
	setup, err := safeABI().Pack("setup", owners, big.NewInt(threshold), common.Address{}, []byte{}, common.Address{}, common.Address{}, new(big.Int), common.Address{})
	if err != nil {
		tb.Fatal(err)
	}
	fa := mustArtifact(NameProxyFactory).ABI
	data, err := fa.Pack("createProxyWithNonce", singleton, setup, big.NewInt(1))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := c.client.CallContract(context.Background(), ethereum.CallMsg{From: c.worker.Address, To: &factory, Data: data}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	vals, err := fa.Unpack("createProxyWithNonce", out)
	if err != nil {
		tb.Fatal(err)
	}
	c.send(tb, c.worker, c.nonces, chain.TxRequest{OpKey: "safe-proxy", To: &factory, Data: data})
	return vals[0].(common.Address)
}

// approve sends owner's approveHash(hash) from the owner's own key.
func (c *govChain) approve(tb testing.TB, owner *chain.Key, hash common.Hash) {
	tb.Helper()
	data, err := safeABI().Pack("approveHash", [32]byte(hash))
	if err != nil {
		tb.Fatal(err)
	}
	safe := c.gov.Safe
	_, conf := c.send(tb, owner, c.ownerNS, chain.TxRequest{OpKey: "approve/" + owner.Name + "/" + hash.Hex(), To: &safe, Data: data})
	c.gas["approveHash/"+owner.Name] = conf.GasUsed
}

func (c *govChain) request() UpgradeRequest {
	code, _ := c.client.CodeAt(context.Background(), c.v2, nil)
	return UpgradeRequest{ReleaseID: "release/demo/1.4.0", Contract: "Counter", Kind: KindUUPS, Proxy: c.proxy, Next: c.v2, Previous: c.v1, NextCodeHash: crypto.Keccak256Hash(code)}
}

func (c *govChain) propose(tb testing.TB) *Proposal {
	tb.Helper()
	st, err := ReadState(context.Background(), c.client, c.gov, c.worker.Address)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := Propose(c.gov, c.request(), st.Nonce, st.MinDelay)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func (c *govChain) implementation(tb testing.TB) common.Address {
	tb.Helper()
	impl, err := chain.ReadImplementation(context.Background(), c.client, c.proxy)
	if err != nil {
		tb.Fatal(err)
	}
	return impl
}

func (c *govChain) progress(tb testing.TB, p *Proposal, sigs ...Signature) *Progress {
	tb.Helper()
	pr, err := ReadProgress(context.Background(), c.client, p, sigs)
	if err != nil {
		tb.Fatal(err)
	}
	return pr
}

func (c *govChain) workerNonce(tb testing.TB) uint64 {
	tb.Helper()
	n, err := c.client.NonceAt(context.Background(), c.worker.Address, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// execSafe runs the exec-Safe step the way a retried activity would: request, sign, broadcast,
// wait, any number of times under one operation key.
func (c *govChain) execSafe(tb testing.TB, p *Proposal, sigs ...Signature) *chain.SignedTx {
	tb.Helper()
	opKey := p.Request.ReleaseID + "/governance/exec-safe/" + p.Request.Contract
	return c.step(tb, opKey, func() (chain.TxRequest, error) {
		return ExecSafeRequest(context.Background(), c.client, p, sigs, opKey)
	})
}

func (c *govChain) execute(tb testing.TB, p *Proposal, op TimelockOp, step string) *chain.SignedTx {
	tb.Helper()
	opKey := p.Request.ReleaseID + "/governance/" + step + "/" + p.Request.Contract
	return c.step(tb, opKey, func() (chain.TxRequest, error) { return ExecuteRequest(p.Timelock, op, opKey) })
}

// step runs a governed step as the workflow's activities do: SignStep, Broadcast, WaitConfirmed.
func (c *govChain) step(tb testing.TB, opKey string, build func() (chain.TxRequest, error)) *chain.SignedTx {
	tb.Helper()
	ctx := context.Background()
	s, err := SignStep(ctx, c.client, c.worker, c.nonces, opKey, build)
	if err != nil {
		tb.Fatalf("sign %s: %v", opKey, err)
	}
	if _, err := chain.Broadcast(ctx, c.client, s.Raw); err != nil {
		tb.Fatalf("broadcast %s: %v", opKey, err)
	}
	conf, err := chain.WaitConfirmed(ctx, c.client, s.Raw, c.waitOpts())
	if err != nil {
		tb.Fatalf("wait %s: %v", opKey, err)
	}
	c.gas[opKey] = conf.GasUsed
	return s
}
