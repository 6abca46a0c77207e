package devstack

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"

	"github.com/shipgate/shipgate/internal/chain"
)

var hundredEther = new(big.Int).Mul(big.NewInt(100), big.NewInt(params.Ether))

// startChain starts a real geth --dev in dir; it fails (never skips) when geth is missing.
func startChain(tb testing.TB, dir string, chainID uint64) *Chain {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := StartChain(ctx, ChainOptions{Dir: dir, ChainID: chainID})
	if err != nil {
		tb.Fatalf("start geth (chain %d): %v", chainID, err)
	}
	tb.Cleanup(func() { _ = c.Stop() })
	return c
}

func loadDemoArtifact(tb testing.TB, name string) *chain.Artifact {
	tb.Helper()
	root, err := RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	a, err := chain.LoadArtifact(filepath.Join(root, "deployments", "examples", "demo", "contracts", "artifacts", "standard-output.json"), name)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// deployVerified is what the contract activities do on a real chain: sign under the nonce
// store, broadcast, wait for confirmations, verify the code.
func deployVerified(ctx context.Context, url string, chainID uint64, key *chain.Key, nonces *chain.NonceStore, opKey string, a *chain.Artifact) (*chain.SignedTx, *chain.Confirmed, *chain.CodeCheck, error) {
	c, err := chain.Dial(ctx, url, chainID)
	if err != nil {
		return nil, nil, nil, err
	}
	defer c.Close()
	data, err := a.DeployData(nil)
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := chain.SignTx(ctx, c, key, nonces, chain.TxRequest{OpKey: opKey, Data: data})
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := chain.Broadcast(ctx, c, s.Raw); err != nil {
		return nil, nil, nil, err
	}
	conf, err := chain.WaitConfirmed(ctx, c, s.Raw, chain.WaitOptions{Confirmations: 2, PollInterval: 100 * time.Millisecond})
	if err != nil {
		return nil, nil, nil, err
	}
	check, err := chain.VerifyCode(ctx, c, *conf.ContractAddress, a)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, conf, check, nil
}

// Two real geth --dev chains with distinct chain ids, a generated and funded deployer, a
// demo contract deployed exactly as the activities do, and a restart that keeps it all.
func TestGethTwoChainsDeployAndRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	testnet := startChain(t, filepath.Join(dir, "testnet"), 31337)
	mainnet := startChain(t, filepath.Join(dir, "mainnet"), 31338)

	// Each node serves its own chain id, and Dial refuses the other one.
	for _, c := range []*Chain{testnet, mainnet} {
		cl, err := chain.Dial(ctx, c.RPC, c.ChainID)
		if err != nil {
			t.Fatalf("dial %s as chain %d: %v", c.RPC, c.ChainID, err)
		}
		cl.Close()
	}
	_, err := chain.Dial(ctx, testnet.RPC, mainnet.ChainID)
	if ce, ok := errors.AsType[*chain.ChainIDError](err); !ok || ce.Expected != 31338 || ce.Got != 31337 {
		t.Fatalf("dial testnet as mainnet: got %v, want a chain id mismatch 31338 vs 31337", err)
	}

	// geth unlocked the account our genesis funded.
	cl, err := chain.Dial(ctx, testnet.RPC, testnet.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var accounts []common.Address
	if err := cl.Client().CallContext(ctx, &accounts, "eth_accounts"); err != nil || len(accounts) == 0 || accounts[0] != GethDevAccount {
		t.Fatalf("eth_accounts = %v, %v; want [%s]", accounts, err, GethDevAccount.Hex())
	}

	// The deployer: generated once, 0600, the same key the worker loads from the env.
	keyPath := filepath.Join(dir, "deployer.key")
	key, env, err := DeployerKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v, %v; want mode 0600", keyPath, fi.Mode(), err)
	}
	name, value, ok := strings.Cut(env, "=")
	if !ok || name != "SHIPGATE_KEY_DEPLOYER" {
		t.Fatalf("worker env names %q, want SHIPGATE_KEY_DEPLOYER", name)
	}
	t.Setenv(name, value)
	if loaded, err := chain.LoadKey("deployer"); err != nil || loaded.Address != key.Address {
		t.Fatalf("worker's LoadKey(deployer) = %v, %v; want %s", loaded, err, key.Address.Hex())
	}
	if strings.Contains(fmt.Sprintf("%v %+v", key, key), value) {
		t.Fatal("the deployer key prints its private part")
	}

	for _, c := range []*Chain{testnet, mainnet} {
		sent, err := FundFromDev(ctx, c.RPC, key.Address, hundredEther)
		if err != nil || !sent {
			t.Fatalf("fund deployer on %d: sent=%v, %v", c.ChainID, sent, err)
		}
	}
	if bal, err := cl.BalanceAt(ctx, key.Address, nil); err != nil || bal.Cmp(hundredEther) != 0 {
		t.Fatalf("deployer balance on testnet = %v, %v; want 100 ETH", bal, err)
	}
	if sent, err := FundFromDev(ctx, testnet.RPC, key.Address, hundredEther); err != nil || sent {
		t.Fatalf("funding a funded deployer: sent=%v, %v; want nothing sent", sent, err)
	}

	// Deploy CounterV1 on both chains: each chain has its own nonce, so the same deployer
	// nonce 0 gives the same CREATE address on both.
	v1 := loadDemoArtifact(t, "CounterV1")
	nonces := &chain.NonceStore{Dir: filepath.Join(dir, "nonces")}
	var addr common.Address
	var deployBlock uint64
	for _, c := range []*Chain{testnet, mainnet} {
		s, conf, check, err := deployVerified(ctx, c.RPC, c.ChainID, key, nonces, "test/deploy/CounterV1", v1)
		if err != nil {
			t.Fatalf("deploy on %d: %v", c.ChainID, err)
		}
		if s.ChainID != c.ChainID || s.Nonce != 0 || *conf.ContractAddress != *s.ContractAddress || check.Address != *s.ContractAddress {
			t.Fatalf("deploy on %d: signed %+v, confirmed %+v, checked %+v", c.ChainID, s, conf, check)
		}
		if conf.Confirmations < 2 {
			t.Fatalf("confirmed with %d confirmations, want 2", conf.Confirmations)
		}
		addr = *s.ContractAddress
		if c == testnet {
			deployBlock = conf.BlockNumber
		}
	}
	head, err := cl.BlockNumber(ctx)
	if err != nil || head < deployBlock+1 {
		t.Fatalf("head %d after a deploy in block %d with 2 confirmations (%v)", head, deployBlock, err)
	}

	// Restart the testnet on the same dir (another port): blocks, code, balance and key stay.
	cl.Close()
	if err := testnet.Stop(); err != nil {
		t.Fatal(err)
	}
	again := startChain(t, testnet.Dir, testnet.ChainID)
	cl2, err := chain.Dial(ctx, again.RPC, again.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	if h, err := cl2.BlockNumber(ctx); err != nil || h < head {
		t.Fatalf("head after restart = %d, %v; want ≥ %d", h, err, head)
	}
	if _, err := chain.VerifyCode(ctx, cl2, addr, v1); err != nil {
		t.Fatalf("code after restart: %v", err)
	}
	if n, err := cl2.NonceAt(ctx, key.Address, nil); err != nil || n != 1 {
		t.Fatalf("deployer nonce after restart = %d, %v; want 1", n, err)
	}
	key2, _, err := DeployerKey(keyPath)
	if err != nil || key2.Address != key.Address {
		t.Fatalf("deployer after restart = %v, %v; want %s", key2, err, key.Address.Hex())
	}
	if sent, err := FundFromDev(ctx, again.RPC, key.Address, big.NewInt(params.Ether)); err != nil || sent {
		t.Fatalf("funding after restart: sent=%v, %v; want the balance kept", sent, err)
	}
	// The nonce store continues on the restarted chain: the next deploy takes nonce 1.
	s, _, _, err := deployVerified(ctx, again.RPC, again.ChainID, key, nonces, "test/deploy/again", v1)
	if err != nil || s.Nonce != 1 {
		t.Fatalf("deploy after restart: %+v, %v; want nonce 1", s, err)
	}
}

// A data dir holds one chain: starting it as another chain id is refused, not rewritten.
func TestGethDirKeepsItsChainID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "chain")
	c := startChain(t, dir, 31337)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wrong, err := StartChain(ctx, ChainOptions{Dir: dir, ChainID: 31338})
	if err == nil {
		_ = wrong.Stop()
		t.Fatal("a testnet dir started as chain 31338")
	}
	if ce, ok := errors.AsType[*chain.ChainIDError](err); !ok || ce.Got != 31337 {
		t.Fatalf("got %v, want a chain id mismatch naming 31337", err)
	}
}

// BenchmarkGethDeploy: sign (nonce store), broadcast, wait for 2 confirmations and verify
// CounterV1 on a real geth --dev with 1 s blocks. Run with -benchtime=5x: one op is seconds.
func BenchmarkGethDeploy(b *testing.B) {
	dir := b.TempDir()
	c := startChain(b, filepath.Join(dir, "chain"), 31337)
	key, _, err := DeployerKey(filepath.Join(dir, "deployer.key"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := FundFromDev(ctx, c.RPC, key.Address, hundredEther); err != nil {
		b.Fatal(err)
	}
	v1 := loadDemoArtifact(b, "CounterV1")
	nonces := &chain.NonceStore{Dir: filepath.Join(dir, "nonces")}
	for i := 0; b.Loop(); i++ {
		if _, _, _, err := deployVerified(ctx, c.RPC, c.ChainID, key, nonces, fmt.Sprintf("bench/%d", i), v1); err != nil {
			b.Fatal(err)
		}
	}
}

// The stack's way: geth as a detached process with a pid file, found running by a second
// `up`, stopped by `down`, its data dir kept.
func TestStackSpawnChain(t *testing.T) {
	bin, err := GethBinary()
	if err != nil {
		t.Fatal(err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	st := Stack{Dir: t.TempDir()}
	c := DevChain{Name: "testnet", ChainID: 31337, Port: port}
	t.Cleanup(func() { _ = st.Stop(c.Process(), 30*time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := st.SpawnChain(ctx, bin, c); err != nil {
		t.Fatal(err)
	}
	pid, ok := st.Running(c.Process())
	if !ok {
		t.Fatal("no running geth-testnet after SpawnChain")
	}
	// In `up`, geth outlives its parent and init reaps it; here the test is its parent, and
	// an unreaped zombie would look alive to Stop.
	reaped := make(chan struct{})
	go func() { _, _ = syscall.Wait4(pid, nil, 0, nil); close(reaped) }()
	if err := st.SpawnChain(ctx, bin, c); err != nil {
		t.Fatalf("second up: %v", err)
	}
	if again, _ := st.Running(c.Process()); again != pid {
		t.Fatalf("second up started another geth (pid %d, was %d)", again, pid)
	}
	// Another chain id on the running node is refused.
	if err := st.SpawnChain(ctx, bin, DevChain{Name: "testnet", ChainID: 31338, Port: port}); err == nil {
		t.Fatal("the testnet dir answered as chain 31338")
	}
	if err := st.Stop(c.Process(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	<-reaped
	// SIGTERM, not the SIGKILL after the grace period: geth persisted its state and stopped.
	log, err := os.ReadFile(st.LogFile(c.Process()))
	if err != nil || !strings.Contains(string(log), "Persisted dirty state") || !strings.Contains(string(log), "Blockchain stopped") {
		t.Fatalf("geth did not shut down cleanly (%v); log %s", err, st.LogFile(c.Process()))
	}
	if _, err := os.Stat(filepath.Join(st.Dir, "chains", "testnet", "geth", "chaindata")); err != nil {
		t.Fatalf("chain data not kept: %v", err)
	}
}
