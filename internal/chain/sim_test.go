package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"
)

// demoArtifacts is the committed solc standard-JSON output of the demo contracts.
var demoArtifacts = filepath.Join("..", "..", "deployments", "examples", "demo", "contracts", "artifacts", "standard-output.json")

func loadDemo(tb testing.TB, name string) *Artifact {
	tb.Helper()
	a, err := LoadArtifact(demoArtifacts, name)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// testChain is a simulated chain with a funded deployer and a nonce store.
type testChain struct {
	sim    *simulated.Backend
	client simulated.Client
	key    *Key
	nonces *NonceStore
}

func newTestChain(tb testing.TB) *testChain {
	tb.Helper()
	priv, err := crypto.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return newTestChainWithKey(tb, priv)
}

func newTestChainWithKey(tb testing.TB, priv *ecdsa.PrivateKey) *testChain {
	tb.Helper()
	key := NewKey("deployer", priv)
	sim := simulated.NewBackend(types.GenesisAlloc{key.Address: {Balance: new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))}})
	tb.Cleanup(func() { _ = sim.Close() })
	return &testChain{sim: sim, client: sim.Client(), key: key, nonces: &NonceStore{Dir: tb.TempDir()}}
}

// waitOpts mines one block per poll: the chain advances exactly as fast as the waiter looks.
func (c *testChain) waitOpts(confirmations uint64) WaitOptions {
	return WaitOptions{Confirmations: confirmations, PollInterval: time.Millisecond, OnProgress: func(WaitProgress) { c.sim.Commit() }}
}

// send signs under the nonce store, broadcasts, and waits for confirmations: the three
// activities of the workflow in a row.
func (c *testChain) send(tb testing.TB, req TxRequest, confirmations uint64) (*SignedTx, *Confirmed) {
	tb.Helper()
	ctx := context.Background()
	s, err := SignTx(ctx, c.client, c.key, c.nonces, req)
	if err != nil {
		tb.Fatalf("sign %s: %v", req.OpKey, err)
	}
	if _, err := Broadcast(ctx, c.client, s.Raw); err != nil {
		tb.Fatalf("broadcast %s: %v", req.OpKey, err)
	}
	conf, err := WaitConfirmed(ctx, c.client, s.Raw, c.waitOpts(confirmations))
	if err != nil {
		tb.Fatalf("wait %s: %v", req.OpKey, err)
	}
	return s, conf
}

func (c *testChain) deploy(tb testing.TB, opKey string, a *Artifact, args []string) (common.Address, *Confirmed) {
	tb.Helper()
	data, err := a.DeployData(args)
	if err != nil {
		tb.Fatal(err)
	}
	s, conf := c.send(tb, TxRequest{OpKey: opKey, Data: data}, 2)
	if conf.ContractAddress == nil || *conf.ContractAddress != *s.ContractAddress {
		tb.Fatalf("deploy %s: receipt address %v, predicted %v", opKey, conf.ContractAddress, s.ContractAddress)
	}
	return *s.ContractAddress, conf
}

func (c *testChain) call(tb testing.TB, to common.Address, a *Artifact, method string, args ...string) []any {
	tb.Helper()
	data, err := a.EncodeCall(method, args)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := c.client.CallContract(context.Background(), ethereum.CallMsg{From: c.key.Address, To: &to, Data: data}, nil)
	if err != nil {
		tb.Fatalf("call %s: %v", method, err)
	}
	vals, err := a.ABI.Unpack(method, out)
	if err != nil {
		tb.Fatalf("unpack %s: %v", method, err)
	}
	return vals
}

// deployProxy deploys v1's implementation and a DemoProxy initialised with (owner, start).
func (c *testChain) deployProxy(tb testing.TB, v1 *Artifact, start string) (impl, proxy common.Address) {
	tb.Helper()
	impl, _ = c.deploy(tb, "r1/impl", v1, nil)
	init, err := v1.EncodeCall("initialize", []string{c.key.Address.Hex(), start})
	if err != nil {
		tb.Fatal(err)
	}
	proxy, _ = c.deploy(tb, "r1/proxy", loadDemo(tb, "DemoProxy"), []string{impl.Hex(), hexString(init)})
	return impl, proxy
}

func hexString(b []byte) string { return "0x" + common.Bytes2Hex(b) }

func TestDeployUpgradeRollback(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t)
	v1, v2, v3 := loadDemo(t, "CounterV1"), loadDemo(t, "CounterV2"), loadDemo(t, "CounterV3Bad")
	proxyArt := loadDemo(t, "DemoProxy")

	impl1, proxy := c.deployProxy(t, v1, "5")
	for _, chk := range []struct {
		addr common.Address
		art  *Artifact
	}{{impl1, v1}, {proxy, proxyArt}} {
		res, err := VerifyCode(ctx, c.client, chk.addr, chk.art)
		if err != nil {
			t.Fatalf("verify %s: %v", chk.art.Name, err)
		}
		if !res.MetadataMatch {
			t.Errorf("verify %s: metadata differs from the artifact built from the same sources", chk.art.Name)
		}
	}
	// The proxy's code must not verify as the implementation: the check can fail.
	if _, err := VerifyCode(ctx, c.client, proxy, v1); !errors.Is(err, ErrCodeMismatch) {
		t.Fatalf("proxy verified as CounterV1: %v", err)
	}
	if err := VerifyImplementation(ctx, c.client, proxy, impl1); err != nil {
		t.Fatal(err)
	}
	if admin, err := ReadAdmin(ctx, c.client, proxy); err != nil || admin != (common.Address{}) {
		t.Fatalf("UUPS proxy admin slot = %s, %v; want zero", admin.Hex(), err)
	}
	if got := c.call(t, proxy, v1, "count")[0].(*big.Int); got.Int64() != 5 {
		t.Fatalf("count after initialize = %d, want 5", got)
	}
	incr, _ := v1.EncodeCall("increment", nil)
	c.send(t, TxRequest{OpKey: "r1/increment", To: &proxy, Data: incr}, 1)

	// Upgrade to v2 after the layout check.
	if err := CheckUpgrade(v1, v2); err != nil {
		t.Fatal(err)
	}
	impl2, _ := c.deploy(t, "r2/impl", v2, nil)
	if _, err := VerifyCode(ctx, c.client, impl2, v2); err != nil {
		t.Fatal(err)
	}
	c.send(t, TxRequest{OpKey: "r2/upgrade", To: &proxy, Data: UpgradeToAndCallData(impl2, nil)}, 2)
	if err := VerifyImplementation(ctx, c.client, proxy, impl2); err != nil {
		t.Fatal(err)
	}
	if got := c.call(t, proxy, v2, "version")[0].(string); got != "2" {
		t.Fatalf("version after upgrade = %q", got)
	}
	if got := c.call(t, proxy, v2, "count")[0].(*big.Int); got.Int64() != 6 {
		t.Fatalf("count survived the upgrade as %d, want 6", got)
	}
	setStep, _ := v2.EncodeCall("setStep", []string{"10"})
	c.send(t, TxRequest{OpKey: "r2/setStep", To: &proxy, Data: setStep}, 1)

	// The bad v3 is refused before anything is sent, naming the variable.
	err := CheckUpgrade(v2, v3)
	var le *LayoutError
	if !errors.As(err, &le) || le.Variable != "count" || !strings.Contains(err.Error(), "retyped from uint256 to uint128") {
		t.Fatalf("v2 -> v3Bad: got %v, want a LayoutError on count", err)
	}

	// Roll back to v1: allowed (v1's layout is a prefix of v2's), then the slot is verified.
	if err := CheckRollback(v2, v1); err != nil {
		t.Fatal(err)
	}
	c.send(t, TxRequest{OpKey: "r2/rollback", To: &proxy, Data: UpgradeToAndCallData(impl1, nil)}, 2)
	if err := VerifyImplementation(ctx, c.client, proxy, impl1); err != nil {
		t.Fatal(err)
	}
	if err := VerifyImplementation(ctx, c.client, proxy, impl2); !errors.Is(err, ErrImplementationMismatch) {
		t.Fatalf("slot still verifies as v2 after rollback: %v", err)
	}
	if got := c.call(t, proxy, v1, "version")[0].(string); got != "1" {
		t.Fatalf("version after rollback = %q", got)
	}
	if got := c.call(t, proxy, v1, "count")[0].(*big.Int); got.Int64() != 6 {
		t.Fatalf("count after rollback = %d, want 6", got)
	}
}

func TestChainIDMismatch(t *testing.T) {
	c := newTestChain(t)
	if err := CheckChainID(context.Background(), c.client, 1337); err != nil {
		t.Fatalf("simulated chain id: %v", err)
	}
	err := CheckChainID(context.Background(), c.client, 1)
	var ce *ChainIDError
	if !errors.As(err, &ce) || ce.Expected != 1 || ce.Got != 1337 {
		t.Fatalf("got %v, want ChainIDError{1, 1337}", err)
	}
	if !strings.Contains(err.Error(), "expected 1") || !strings.Contains(err.Error(), "1337") {
		t.Fatalf("error does not name both ids: %v", err)
	}
}

func TestRevertedTransaction(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t)
	v1 := loadDemo(t, "CounterV1")
	_, proxy := c.deployProxy(t, v1, "0")
	dec, _ := v1.EncodeCall("decrement", nil)

	// Estimation already sees the revert and names the custom error.
	_, err := SignTx(ctx, c.client, c.key, c.nonces, TxRequest{OpKey: "dec/estimated", To: &proxy, Data: dec, ErrorABI: &v1.ABI})
	if err == nil || !strings.Contains(err.Error(), "CountIsZero") {
		t.Fatalf("estimate of a reverting call: got %v, want CountIsZero", err)
	}
	// With a given gas limit it is mined, reverts, and the wait says so with the reason.
	s, err := SignTx(ctx, c.client, c.key, c.nonces, TxRequest{OpKey: "dec/forced", To: &proxy, Data: dec, Gas: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Broadcast(ctx, c.client, s.Raw); err != nil {
		t.Fatal(err)
	}
	opts := c.waitOpts(1)
	opts.ErrorABI = &v1.ABI
	_, err = WaitConfirmed(ctx, c.client, s.Raw, opts)
	var te *TxError
	if !errors.Is(err, ErrReverted) || !errors.As(err, &te) || te.Hash != s.Hash || !strings.Contains(err.Error(), "CountIsZero") {
		t.Fatalf("got %v, want ErrReverted for %s naming CountIsZero", err, s.Hash.Hex())
	}
}

func TestUnderpricedTransaction(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t)
	chainID := big.NewInt(1337)
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	tip, feeCap, err := SuggestFees(ctx, c.client)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		prepare func() // sends a transaction first, if any
		params  TxParams
	}{
		{"tip below the pool minimum", nil, TxParams{ChainID: chainID, Nonce: 0, GasTipCap: big.NewInt(0), GasFeeCap: feeCap, Gas: 21000}},
		{"replacement with the same fees", func() {
			first, err := SignCall(context.Background(), c.key, TxParams{ChainID: chainID, Nonce: 0, GasTipCap: tip, GasFeeCap: feeCap, Gas: 21000}, to, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Broadcast(ctx, c.client, first.Raw); err != nil {
				t.Fatal(err)
			}
		}, TxParams{ChainID: chainID, Nonce: 0, GasTipCap: tip, GasFeeCap: feeCap, Gas: 21000, Value: big.NewInt(1)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prepare != nil {
				tc.prepare()
			}
			s, err := SignCall(context.Background(), c.key, tc.params, to, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Broadcast(ctx, c.client, s.Raw)
			var te *TxError
			if !errors.Is(err, ErrUnderpriced) || !errors.As(err, &te) || te.Hash != s.Hash {
				t.Fatalf("got %v, want ErrUnderpriced for %s", err, s.Hash.Hex())
			}
		})
	}
}

func TestRebroadcastIsHarmless(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t)
	data, err := loadDemo(t, "CounterV1").DeployData(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := SignTx(ctx, c.client, c.key, c.nonces, TxRequest{OpKey: "deploy", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // pending: "already known"
		if h, err := Broadcast(ctx, c.client, s.Raw); err != nil || h != s.Hash {
			t.Fatalf("broadcast %d while pending: %s, %v", i, h.Hex(), err)
		}
	}
	conf, err := WaitConfirmed(ctx, c.client, s.Raw, c.waitOpts(2))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // mined: "nonce too low", but it is ours
		if _, err := Broadcast(ctx, c.client, s.Raw); err != nil {
			t.Fatalf("broadcast %d after mining: %v", i, err)
		}
		c.sim.Commit()
	}
	if n, err := c.client.NonceAt(ctx, c.key.Address, nil); err != nil || n != 1 {
		t.Fatalf("account nonce after 5 broadcasts of one tx = %d, %v; want 1", n, err)
	}
	again, err := WaitConfirmed(ctx, c.client, s.Raw, c.waitOpts(2))
	if err != nil || again.BlockHash != conf.BlockHash {
		t.Fatalf("wait again: %v, block %s vs %s", err, again.BlockHash.Hex(), conf.BlockHash.Hex())
	}
	// Retrying the sign activity returns the same bytes, not a second transaction.
	s2, err := SignTx(ctx, c.client, c.key, c.nonces, TxRequest{OpKey: "deploy", Data: data})
	if err != nil || s2.Hash != s.Hash || string(s2.Raw) != string(s.Raw) {
		t.Fatalf("re-sign of the same op: %v, hash %s vs %s", err, s2.Hash.Hex(), s.Hash.Hex())
	}
}

func TestDroppedTransactionIsRebroadcast(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t)
	data, _ := loadDemo(t, "CounterV1").DeployData(nil)
	s, err := SignTx(ctx, c.client, c.key, c.nonces, TxRequest{OpKey: "deploy", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Broadcast(ctx, c.client, s.Raw); err != nil {
		t.Fatal(err)
	}
	c.sim.Rollback() // empties the pool: the node forgot the transaction
	if _, _, err := c.client.TransactionByHash(ctx, s.Hash); !errors.Is(err, ethereum.NotFound) && !IsIndexing(err) {
		t.Fatalf("transaction still known after rollback: %v", err)
	}
	var states []string
	opts := c.waitOpts(2)
	opts.OnProgress = func(p WaitProgress) { states = append(states, p.State); c.sim.Commit() }
	conf, err := WaitConfirmed(ctx, c.client, s.Raw, opts)
	if err != nil {
		t.Fatal(err)
	}
	if conf.Rebroadcasts != 1 || !slices.Contains(states, "rebroadcast") || *conf.ContractAddress != *s.ContractAddress {
		t.Fatalf("rebroadcasts %d, states %v, address %s", conf.Rebroadcasts, states, conf.ContractAddress.Hex())
	}
}

func TestWaitConfirmedSurvivesReorg(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t)
	data, _ := loadDemo(t, "CounterV1").DeployData(nil)
	s, err := SignTx(ctx, c.client, c.key, c.nonces, TxRequest{OpKey: "deploy", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	parent, err := c.client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Broadcast(ctx, c.client, s.Raw); err != nil {
		t.Fatal(err)
	}
	c.sim.Commit()
	first, err := c.client.TransactionReceipt(ctx, s.Hash)
	if err != nil {
		t.Fatal(err)
	}
	// Replace the block that holds the transaction with a longer side chain.
	if err := c.sim.Fork(parent.Hash()); err != nil {
		t.Fatal(err)
	}
	c.sim.Rollback()
	c.sim.Commit()
	c.sim.Commit()
	conf, err := WaitConfirmed(ctx, c.client, s.Raw, c.waitOpts(3))
	if err != nil {
		t.Fatal(err)
	}
	if conf.BlockHash == first.BlockHash {
		t.Fatalf("confirmed in the orphaned block %s", first.BlockHash.Hex())
	}
	canon, err := c.client.HeaderByNumber(ctx, new(big.Int).SetUint64(conf.BlockNumber))
	if err != nil || canon.Hash() != conf.BlockHash {
		t.Fatalf("confirmed block %s is not canonical: %v", conf.BlockHash.Hex(), err)
	}
}
