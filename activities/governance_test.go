package activities

import (
	"context"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"
	"go.temporal.io/sdk/temporal"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/release"
)

// On a governed chain the worker's key never switches a proxy (Sign refuses upgrade and revert,
// not retried), and Plan checks the governance against the chain before anything else: here
// the policy names addresses without contracts, so planning fails with no transaction sent.
// (The match and every mismatch against real Safe and timelock contracts are tested in
// internal/chain/safe.)
func TestGovernedChainNeverSwitchesWithWorkerKey(t *testing.T) {
	priv, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key := chain.NewKey("DEPLOYER", priv)
	sim := simulated.NewBackend(types.GenesisAlloc{key.Address: {Balance: new(big.Int).Mul(big.NewInt(10), big.NewInt(params.Ether))}})
	defer sim.Close()
	dir := t.TempDir()
	c := &Contracts{
		Nonces:  &chain.NonceStore{Dir: filepath.Join(dir, "nonces")},
		Records: &chain.RecordStore{Dir: filepath.Join(dir, "records")},
		Dial:    func(context.Context, string, uint64) (chain.Backend, error) { return sim.Client(), nil },
		Key:     func(string) (*chain.Key, error) { return key, nil },
	}
	ch := release.Chain{Name: "mainnet", Role: "mainnet", ChainID: 1337, Deployer: "DEPLOYER", Governance: &release.Governance{
		Safe: "0x5FbDB2315678afecb367f032d93F642f64180aa3", Timelock: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", MultiSend: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
		Owners: []string{"0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"}, Threshold: 2, MinDelay: release.Duration(3600e9),
	}}
	for _, op := range []string{release.OpUpgrade, release.OpRevert} {
		_, err := c.Sign(context.Background(), release.ContractTx{Chain: ch, OpKey: "k-" + op, Op: op, Contract: release.Contract{Name: "Counter"},
			Proxy: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", Implementation: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"})
		var app *temporal.ApplicationError
		if err == nil || !strings.Contains(err.Error(), "is governed") || !errors.As(err, &app) || !app.NonRetryable() {
			t.Fatalf("%s on a governed chain: %v", op, err)
		}
	}
	_, err = c.Plan(context.Background(), release.ContractsPlanRequest{ReleaseID: "r", Chain: ch})
	if err == nil || !strings.Contains(err.Error(), "no contract at 0x5FbDB2315678afecb367f032d93F642f64180aa3") {
		t.Fatalf("plan on a chain without the Safe: %v", err)
	}
	if n, _ := sim.Client().NonceAt(context.Background(), key.Address, nil); n != 0 {
		t.Fatalf("%d transactions sent", n)
	}
}

// The one rule for raw hex deployer keys: a dev worker, on a chain that is neither a known
// mainnet nor governed.
func TestHexKeyAllowed(t *testing.T) {
	gov := &release.Governance{Safe: "0x5FbDB2315678afecb367f032d93F642f64180aa3"}
	for _, tc := range []struct {
		dev  bool
		ch   release.Chain
		want bool
	}{
		{true, release.Chain{ChainID: 31338}, true},
		{false, release.Chain{ChainID: 31338}, false},
		{true, release.Chain{ChainID: 1}, false},
		{true, release.Chain{ChainID: 8453}, false},
		{true, release.Chain{ChainID: 31338, Governance: gov}, false},
	} {
		c := &Contracts{AllowHexKeys: tc.dev}
		if got := c.hexKeyAllowed(tc.ch); got != tc.want {
			t.Errorf("dev worker %v, chain %d, governed %v: %v, want %v", tc.dev, tc.ch.ChainID, tc.ch.Governance != nil, got, tc.want)
		}
	}
}
