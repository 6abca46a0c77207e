package main

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/release"
)

// contractChains are the two real geth --dev chains of a contract test, with a funded deployer.
type contractChains struct {
	testnet, mainnet *devstack.Chain
	key              *chain.Key
	keyEnv           string
	// keyFile holds the deployer's hex key (devstack.DeployerKey), for a keystore of it.
	keyFile string
}

func startContractChains(t *testing.T) *contractChains {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := &contractChains{keyFile: filepath.Join(t.TempDir(), "deployer.key")}
	var err error
	if c.key, c.keyEnv, err = devstack.DeployerKey(c.keyFile); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []struct {
		dst *(*devstack.Chain)
		id  uint64
	}{{&c.testnet, 31337}, {&c.mainnet, 31338}} {
		started, err := devstack.StartChain(ctx, devstack.ChainOptions{Dir: t.TempDir(), ChainID: ch.id, Period: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = started.Stop() })
		*ch.dst = started
		if _, err := devstack.FundFromDev(ctx, started.RPC, c.key.Address, new(big.Int).Mul(big.NewInt(100), big.NewInt(params.Ether))); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// sent is how many transactions the deployer has had mined on a chain.
func (c *contractChains) sent(t *testing.T, ch *devstack.Chain) uint64 {
	t.Helper()
	cl, err := ethclient.Dial(ch.RPC)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n, err := cl.NonceAt(context.Background(), c.key.Address, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// writeContractRelease is the demo release with the demo counter (implementation impl behind
// a DemoProxy) on the two chains.
// policyEdits are more edits of the policy (see writeRelease).
func (s *stack) writeContractRelease(c *contractChains, version, impl string, policyEdits ...string) (manifest, policy string) {
	s.t.Helper()
	manifest, policy = s.writeRelease("3s", append([]string{"http://127.0.0.1:8545", c.testnet.RPC, "http://127.0.0.1:8546", c.mainnet.RPC}, policyEdits...)...)
	art := filepath.Join(s.root, "deployments/examples/demo/contracts/artifacts/standard-output.json")
	m, err := os.ReadFile(manifest)
	if err != nil {
		s.t.Fatal(err)
	}
	ms := strings.Replace(string(m), "contracts: false", "contracts: true", 1)
	ms = strings.Replace(ms, "version: 1.4.0", "version: "+version, 1)
	ms += fmt.Sprintf(`contracts:
  - name: Counter
    artifact: %[1]s
    contractName: %[2]s
    proxy: {kind: uups, initializer: initialize, initArgs: ["%[3]s", "5"], artifact: %[1]s, contractName: DemoProxy}
`, art, impl, c.key.Address.Hex())
	if err := os.WriteFile(manifest, []byte(ms), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return manifest, policy
}

// waitWorkerDies waits for the worker to kill itself at its crash point.
func (s *stack) waitWorkerDies(point string, timeout time.Duration) {
	s.t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.worker.Wait() }()
	select {
	case <-done:
		log := s.workerLog.String()
		if i := strings.LastIndex(log, "test crash point reached"); i < 0 || !strings.Contains(log[i:], point) {
			s.t.Fatalf("worker exited, but not at crash point %s:\n%s", point, s.workerLog)
		}
	case <-time.After(timeout):
		s.t.Fatalf("worker never reached crash point %s:\n%s", point, s.workerLog)
	}
}

// The worker is killed (SIGKILL) right after signing, right after broadcasting and while
// waiting for confirmations; the release still ends with exactly one transaction per step
// (the deployer's nonce on each chain) at the addresses predicted before broadcast.
func TestContractDeployExactlyOnceAcrossWorkerCrashes(t *testing.T) {
	c := startContractChains(t)
	s := newCrashStack(t)
	manifest, policy := s.writeContractRelease(c, "1.4.0", "CounterV1")
	s.killWorker()
	s.workerEnv = []string{c.keyEnv, "SHIPGATE_TEST_CRASH_AT=sign"}
	s.startWorker()
	id := strings.TrimSpace(s.mustCLI("start", "-f", manifest, "--policy", policy, "--as", "rm-ada"))
	cl, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r := s.load(manifest, policy)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	type ended struct {
		st  release.Status
		err error
	}
	done := make(chan ended, 1)
	go func() { // the demo approvers, while the worker crashes and comes back
		st, err := devstack.Follow(ctx, cl, r, io.Discard, true)
		done <- ended{st, err}
	}()
	s.waitWorkerDies("sign", 5*time.Minute)
	for _, point := range []string{"broadcast", "confirm"} {
		s.workerEnv = []string{c.keyEnv, "SHIPGATE_TEST_CRASH_AT=" + point}
		s.startWorker()
		s.waitWorkerDies(point, 5*time.Minute)
	}
	s.workerEnv = []string{c.keyEnv}
	s.startWorker()
	e := <-done
	if e.err != nil {
		t.Fatal(e.err)
	}
	st := e.st
	if st.State != release.StateSucceeded {
		t.Fatalf("release %s ended %s: %s\n%s", id, st.State, st.Reason, s.workerLog)
	}
	// implementation + proxy on each chain, each exactly once, whatever the crashes
	for _, ch := range []*devstack.Chain{c.testnet, c.mainnet} {
		if n := c.sent(t, ch); n != 2 {
			t.Errorf("chain %d: the deployer sent %d transactions, want 2", ch.ChainID, n)
		}
	}
	if len(st.Contracts) != 4 {
		t.Fatalf("status lists %d contract transactions, want 4: %+v", len(st.Contracts), st.Contracts)
	}
	for _, d := range st.Contracts {
		want := crypto.CreateAddress(c.key.Address, d.Nonce)
		if common.HexToAddress(d.Address) != want {
			t.Errorf("%s %s on %s at %s, want the predicted %s (nonce %d)", d.Op, d.Contract, d.Chain, d.Address, want.Hex(), d.Nonce)
		}
		if d.CodeHash == "" || d.Confirmations < 2 || d.Block == 0 {
			t.Errorf("deployment not verified and confirmed: %+v", d)
		}
	}
	if name := os.Getenv("SHIPGATE_RECORD_CONTRACTS_HISTORY"); name != "" {
		t.Setenv("SHIPGATE_RECORD_HISTORY", name)
	}
	recordHistory(t, cl, id)
	t.Logf("transactions per release with 3 worker crashes: testnet %d, mainnet %d", c.sent(t, c.testnet), c.sent(t, c.mainnet))
}
