package people

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/shipgate/shipgate/internal/release"
)

// A person's wallet is made once and kept (0600): the Safe they own stays theirs across runs.
func TestWalletPersists(t *testing.T) {
	ring := &Keyring{Dir: t.TempDir()}
	w, err := ring.Wallet("bob")
	if err != nil {
		t.Fatal(err)
	}
	again, err := (&Keyring{Dir: ring.Dir}).Wallet("bob")
	if err != nil || crypto.PubkeyToAddress(again.PublicKey) != crypto.PubkeyToAddress(w.PublicKey) {
		t.Fatalf("bob's wallet changed across keyrings on one directory (%v)", err)
	}
	other, _ := ring.Wallet("carol")
	if crypto.PubkeyToAddress(other.PublicKey) == crypto.PubkeyToAddress(w.PublicKey) {
		t.Fatal("bob and carol share a wallet")
	}
	if fi, err := os.Stat(filepath.Join(ring.Dir, "bob.wallet")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("wallet file mode %v %v", fi, err)
	}
	if _, err := ring.Wallet("../x"); err == nil {
		t.Fatal("a wallet name with a path in it was accepted")
	}
}

// The stack's governance goes into the worker's copy of the demo policy, on the chain with its
// chain id only, and loads back as the policy's governance; a chain that names its own keeps it.
func TestGovernPolicies(t *testing.T) {
	src, dst := filepath.Join("..", "..", "..", "deployments", "policies"), t.TempDir()
	ring := &Keyring{Dir: t.TempDir()}
	if err := ring.RenderPolicies(src, dst); err != nil {
		t.Fatal(err)
	}
	var owners []string
	for _, id := range []string{"bob", "carol", "erin"} {
		w, err := ring.Wallet(id)
		if err != nil {
			t.Fatal(err)
		}
		owners = append(owners, crypto.PubkeyToAddress(w.PublicKey).Hex())
	}
	addr := func(id string) string {
		w, _ := ring.Wallet(id)
		return crypto.PubkeyToAddress(w.PublicKey).Hex()
	}
	g := release.Governance{Safe: addr("safe"), Timelock: addr("timelock"), MultiSend: addr("multisend"), Owners: owners, Threshold: 2, MinDelay: release.Duration(30 * time.Second)}
	changed, err := GovernPolicies(dst, 31338, g)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || filepath.Base(changed[0]) != "demo.yaml" {
		t.Fatalf("changed %v, want the demo policy", changed)
	}
	p, err := release.LoadPolicy(filepath.Join(dst, "demo.yaml"), anyType)
	if err != nil {
		t.Fatal(err)
	}
	main, _ := p.ChainFor(release.ChainMainnet)
	if main.Governance == nil || !reflect.DeepEqual(*main.Governance, g) {
		t.Fatalf("mainnet governance %+v, want %+v", main.Governance, g)
	}
	if test, _ := p.ChainFor(release.ChainTestnet); test.Governance != nil {
		t.Fatalf("testnet governed too: %+v", test.Governance)
	}
	other := g
	other.Threshold = 3
	if changed, err := GovernPolicies(dst, 31338, other); err != nil || len(changed) != 0 {
		t.Fatalf("a governed chain was governed again: %v %v", changed, err)
	}
}
