package chain

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Two releases sharing a deployer key sign concurrently through separate NonceStore values
// on one directory (as two worker processes would): every transaction gets its own nonce,
// with no gap, and a retried op gets its first bytes back.
func TestNonceStoreConcurrentReleases(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t)
	dir := t.TempDir()
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	const perRelease = 6
	var (
		mu     sync.Mutex
		nonces = map[uint64]string{}
		hashes = map[string]common.Hash{}
		wg     sync.WaitGroup
		errs   = make(chan error, 2*perRelease)
	)
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store := &NonceStore{Dir: dir}
			for i := range perRelease {
				op := fmt.Sprintf("release-%d/op-%d", r, i)
				s, err := SignTx(ctx, c.client, c.key, store, TxRequest{OpKey: op, To: &to, Gas: 21000})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, ok := nonces[s.Nonce]; ok {
					errs <- fmt.Errorf("nonce %d given to %s and %s", s.Nonce, prev, op)
				}
				nonces[s.Nonce], hashes[op] = op, s.Hash
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := make([]int, 0, len(nonces))
	for n := range nonces {
		got = append(got, int(n))
	}
	sort.Ints(got)
	if len(got) != 2*perRelease || got[0] != 0 || got[len(got)-1] != 2*perRelease-1 {
		t.Fatalf("nonces %v, want 0..%d", got, 2*perRelease-1)
	}
	// A retry after a crash returns the stored bytes, even with other fees requested.
	again, err := SignTx(ctx, c.client, c.key, &NonceStore{Dir: dir}, TxRequest{OpKey: "release-1/op-3", To: &to, Gas: 50000, GasTipCap: big.NewInt(7), GasFeeCap: big.NewInt(1e12)})
	if err != nil || again.Hash != hashes["release-1/op-3"] {
		t.Fatalf("retry: %v, hash %s, first %s", err, again.Hash.Hex(), hashes["release-1/op-3"].Hex())
	}
	reserved, err := (&NonceStore{Dir: dir}).Reserved(1337, c.key.Address)
	if err != nil || len(reserved) != 2*perRelease {
		t.Fatalf("reserved: %d, %v", len(reserved), err)
	}
}

// A transaction sent with the same key outside shipgate moves the chain's pending nonce past
// the store's: the next allocation follows the chain, not the stale local counter.
func TestNonceStoreFollowsChain(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t)
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	first, _ := c.send(t, TxRequest{OpKey: "a", To: &to, Gas: 21000}, 1)
	tip, feeCap, err := SuggestFees(ctx, c.client)
	if err != nil {
		t.Fatal(err)
	}
	for n := uint64(1); n <= 2; n++ { // another tool used nonces 1 and 2
		s, err := SignCall(context.Background(), c.key, TxParams{ChainID: big.NewInt(1337), Nonce: n, GasTipCap: tip, GasFeeCap: feeCap, Gas: 21000}, to, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Broadcast(ctx, c.client, s.Raw); err != nil {
			t.Fatal(err)
		}
	}
	// The pool takes a sent transaction in asynchronously: the other tool's nonces count once
	// the node reports them (bounded wait; it failed now and then on a loaded machine without).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if n, err := c.client.PendingNonceAt(ctx, c.key.Address); err == nil && n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node never reported pending nonce 3 for the other tool's transactions")
		}
	}
	next, err := SignTx(ctx, c.client, c.key, c.nonces, TxRequest{OpKey: "b", To: &to, Gas: 21000})
	if err != nil {
		t.Fatal(err)
	}
	if first.Nonce != 0 || next.Nonce != 3 {
		t.Fatalf("nonces %d then %d, want 0 then 3", first.Nonce, next.Nonce)
	}
}

func TestSignDeployPredictsAddress(t *testing.T) {
	c := newTestChain(t)
	data, _ := loadDemo(t, "CounterV1").DeployData(nil)
	s, conf := c.send(t, TxRequest{OpKey: "deploy", Data: data}, 1)
	if s.ContractAddress == nil || *conf.ContractAddress != *s.ContractAddress {
		t.Fatalf("predicted %v, mined at %v", s.ContractAddress, conf.ContractAddress)
	}
	for _, p := range []TxParams{
		{Nonce: 1, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2), Gas: 1},
		{ChainID: big.NewInt(1), GasTipCap: big.NewInt(3), GasFeeCap: big.NewInt(2), Gas: 1},
		{ChainID: big.NewInt(1), GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2)},
	} {
		if _, err := SignDeploy(context.Background(), c.key, p, data); err == nil {
			t.Fatalf("params %+v accepted", p)
		}
	}
}

func TestCreate2Address(t *testing.T) {
	factory := common.HexToAddress("0x4e59b44847b379578588920cA78FbF26c0B4956C")
	a := SaltFromRelease("release/svc/1.0.0", "Counter")
	b := SaltFromRelease("release/svc/1.0.1", "Counter")
	if a == b || a != SaltFromRelease("release/svc/1.0.0", "Counter") {
		t.Fatal("salt is not a function of the release id")
	}
	// EIP-1014's first example: deployer 0x0, salt 0, init code 0x00.
	if got := Create2Address(common.Address{}, [32]byte{}, []byte{0}); got != common.HexToAddress("0x4D1A2e2bB4F88F0250f26Ffff098B0b30B26BF38") {
		t.Fatalf("EIP-1014 example: %s", got.Hex())
	}
	if Create2Address(factory, a, []byte{1}) == Create2Address(factory, b, []byte{1}) {
		t.Fatal("different salts, same address")
	}
}

// A signed transaction that was never broadcast blocks later ones; Resend recovers.
func TestNonceStoreResend(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t)
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	var signed []*SignedTx
	for _, op := range []string{"abandoned", "next"} {
		s, err := SignTx(ctx, c.client, c.key, c.nonces, TxRequest{OpKey: op, To: &to, Gas: 21000})
		if err != nil {
			t.Fatal(err)
		}
		signed = append(signed, s)
	}
	if _, err := Broadcast(ctx, c.client, signed[1].Raw); err != nil { // only the later one
		t.Fatal(err)
	}
	c.sim.Commit()
	if n, _ := c.client.NonceAt(ctx, c.key.Address, nil); n != 0 {
		t.Fatalf("nonce %d mined without nonce 0", n)
	}
	sent, err := c.nonces.Resend(ctx, c.client, 1337, c.key.Address)
	if err != nil || len(sent) != 2 || sent[0] != signed[0].Hash {
		t.Fatalf("resend: %v, %v", sent, err)
	}
	for _, s := range signed {
		if _, err := WaitConfirmed(ctx, c.client, s.Raw, c.waitOpts(1)); err != nil {
			t.Fatal(err)
		}
	}
	if again, err := c.nonces.Resend(ctx, c.client, 1337, c.key.Address); err != nil || len(again) != 0 {
		t.Fatalf("resend after mining: %v, %v", again, err)
	}
}
