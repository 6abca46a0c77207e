package safe

import (
	"context"
	"errors"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/release"
)

func view(tb testing.TB, c *govChain, to common.Address, a *abi.ABI, method string, args ...any) []any {
	tb.Helper()
	v, err := callView(context.Background(), c.client, to, a, method, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// The hash shipgate shows the owners is the one the Safe itself checks signatures against,
// for a proposal and for a transaction with every field set.
func TestSafeTxHashEqualsGetTransactionHash(t *testing.T) {
	c := newGovChain(t)
	p := c.propose(t)
	odd := SafeTx{Safe: c.gov.Safe, ChainID: c.gov.ChainID, To: c.stranger.Address, Value: (*hexutil.Big)(big.NewInt(12345)),
		Data: []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3}, Operation: OperationCall, SafeTxGas: (*hexutil.Big)(big.NewInt(70000)),
		BaseGas: (*hexutil.Big)(big.NewInt(21000)), GasPrice: (*hexutil.Big)(big.NewInt(3)), GasToken: c.v1, RefundReceiver: c.owners[0].Address, Nonce: 41}
	for _, tx := range []SafeTx{p.SafeTx, odd} {
		want := view(t, c, c.gov.Safe, safeABI(), "getTransactionHash", tx.To, bigOrZero(tx.Value), []byte(tx.Data), uint8(tx.Operation),
			bigOrZero(tx.SafeTxGas), bigOrZero(tx.BaseGas), bigOrZero(tx.GasPrice), tx.GasToken, tx.RefundReceiver, new(big.Int).SetUint64(tx.Nonce))[0].([32]byte)
		got, err := tx.Hash()
		if err != nil {
			t.Fatal(err)
		}
		if got != common.Hash(want) {
			t.Fatalf("safeTxHash %s, the Safe says %s", got.Hex(), common.Hash(want).Hex())
		}
	}
	if p.SafeTxHash == (common.Hash{}) {
		t.Fatal("proposal without a hash")
	}
	// the operation ids are the timelock's own
	for _, op := range []TimelockOp{p.Upgrade, p.Revert} {
		want := view(t, c, c.gov.Timelock, timelockABI(), "hashOperation", op.Target, bigOrZero(op.Value), []byte(op.Data), [32]byte(op.Predecessor), [32]byte(op.Salt))[0].([32]byte)
		if op.ID != common.Hash(want) {
			t.Fatalf("operation id %s, the timelock says %s", op.ID.Hex(), common.Hash(want).Hex())
		}
	}
}

// A policy that disagrees with the chain is refused by reading alone: no transaction.
func TestPolicyDisagreeingWithChainRefused(t *testing.T) {
	c := newGovChain(t)
	before := c.workerNonce(t)
	st, err := ReadState(context.Background(), c.client, c.gov, c.worker.Address)
	if err != nil {
		t.Fatal(err)
	}
	owners := []common.Address{c.owners[2].Address, c.owners[0].Address, c.owners[1].Address}
	good := Expect{Owners: owners, Threshold: 2, MinDelay: testDelay, Worker: c.worker.Address}
	if err := Check(c.gov, st, good); err != nil {
		t.Fatalf("matching policy refused: %v", err)
	}
	for name, tc := range map[string]struct {
		e    Expect
		want string
	}{
		"owner":     {Expect{Owners: []common.Address{owners[0], owners[1], c.stranger.Address}, Threshold: 2, MinDelay: testDelay, Worker: c.worker.Address}, "owners on chain"},
		"threshold": {Expect{Owners: owners, Threshold: 3, MinDelay: testDelay, Worker: c.worker.Address}, "threshold on chain 2, policy says 3"},
		"delay":     {Expect{Owners: owners, Threshold: 2, MinDelay: 60, Worker: c.worker.Address}, "minDelay on chain 3600s, policy says 60s"},
		"worker":    {Expect{Owners: owners, Threshold: 2, MinDelay: testDelay, Worker: c.stranger.Address}, "may not execute"},
		"ownerkey":  {Expect{Owners: owners, Threshold: 2, MinDelay: testDelay, Worker: c.owners[1].Address}, "is a Safe owner"},
	} {
		st, err := ReadState(context.Background(), c.client, c.gov, tc.e.Worker)
		if err != nil {
			t.Fatal(err)
		}
		err = Check(c.gov, st, tc.e)
		if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a mismatch naming %q", name, err, tc.want)
		}
	}
	// swapped addresses: the timelock given as the Safe
	if _, err := ReadState(context.Background(), c.client, Governance{ChainID: 1337, Safe: c.gov.Timelock, Timelock: c.gov.Safe, MultiSend: c.gov.MultiSend}, c.worker.Address); err == nil {
		t.Error("a timelock read as a Safe was accepted")
	}
	if after := c.workerNonce(t); after != before {
		t.Fatalf("checking sent %d transactions", after-before)
	}
}

// The whole governed path by on-chain approvals: the proxy moves only after the threshold and
// the delay, each executing transaction is signed once however often its step runs, and the
// prepared revert is ready the moment the upgrade lands.
func TestGovernedUpgradeByApproveHash(t *testing.T) {
	c := newGovChain(t)
	ctx := context.Background()
	p := c.propose(t)
	if got := c.progress(t, p).Phase; got != PhaseAwaitingApprovals {
		t.Fatalf("phase %s", got)
	}
	lines := strings.Join(Lines(p.Decoded), "\n")
	for _, want := range []string{"multiSend", "schedule", "upgradeToAndCall", "newImplementation=" + c.v2.Hex(), "newImplementation=" + c.v1.Hex(), "delay=3600"} {
		if !strings.Contains(lines, want) {
			t.Fatalf("decoded calldata lacks %q:\n%s", want, lines)
		}
	}
	c.approve(t, c.owners[0], p.SafeTxHash)
	start := c.workerNonce(t)
	if _, err := ExecSafeRequest(ctx, c.client, p, nil, "x"); !errors.Is(err, ErrNotApproved) {
		t.Fatalf("one of two approvals: %v", err)
	}
	c.approve(t, c.owners[2], p.SafeTxHash)
	pr := c.progress(t, p)
	if pr.Phase != PhaseApproved || len(pr.Approved) != 2 {
		t.Fatalf("after two approvals: %+v", pr)
	}
	first := c.execSafe(t, p)
	again := c.execSafe(t, p) // a retried activity: same operation key, same bytes
	if first.Hash != again.Hash {
		t.Fatalf("exec-Safe signed twice: %s, %s", first.Hash.Hex(), again.Hash.Hex())
	}
	if pr := c.progress(t, p); pr.Phase != PhaseScheduled || pr.Revert != OpWaiting {
		t.Fatalf("after exec: %+v", pr)
	}
	// too early: the timelock refuses, nothing is signed
	if _, err := chain.SignTx(ctx, c.client, c.worker, c.nonces, mustExecute(t, p, p.Upgrade, "early")); err == nil {
		t.Fatal("execute before the delay was signed")
	}
	if err := c.sim.AdjustTime(time.Duration(testDelay) * time.Second); err != nil {
		t.Fatal(err)
	}
	c.sim.Commit()
	if pr := c.progress(t, p); pr.Phase != PhaseReady {
		t.Fatalf("after the delay: %+v", pr)
	}
	// the revert's delay is over too, but its predecessor (the upgrade) is not done: refused
	if _, err := chain.SignTx(ctx, c.client, c.worker, c.nonces, mustExecute(t, p, p.Revert, "revert-early")); err == nil || !strings.Contains(err.Error(), "TimelockUnexecutedPredecessor") {
		t.Fatalf("revert before the upgrade: %v", err)
	}
	if c.implementation(t) != c.v1 {
		t.Fatal("proxy moved before execute")
	}
	up := c.execute(t, p, p.Upgrade, "execute")
	if up2 := c.execute(t, p, p.Upgrade, "execute"); up2.Hash != up.Hash {
		t.Fatal("execute signed twice")
	}
	if c.implementation(t) != c.v2 {
		t.Fatal("proxy not upgraded")
	}
	pr = c.progress(t, p)
	if pr.Phase != PhaseUpgraded || pr.Revert != OpReady {
		t.Fatalf("after the upgrade: %+v: the revert must be ready at once", pr)
	}
	if got := c.workerNonce(t) - start; got != 2 {
		t.Fatalf("worker sent %d transactions for a governed upgrade, want 2", got)
	}
	// rollback: the prepared revert, no new delay, one transaction
	start = c.workerNonce(t)
	c.execute(t, p, p.Revert, "revert")
	c.execute(t, p, p.Revert, "revert")
	if c.implementation(t) != c.v1 {
		t.Fatal("proxy not reverted")
	}
	if got := c.workerNonce(t) - start; got != 1 {
		t.Fatalf("rollback took %d transactions, want 1", got)
	}
	if pr := c.progress(t, p); pr.Phase != PhaseReverted {
		t.Fatalf("after the revert: %s", pr.Phase)
	}
	for _, k := range slices.Sorted(maps.Keys(c.gas)) {
		t.Logf("gas %-60s %d", k, c.gas[k])
	}
}

func mustExecute(tb testing.TB, p *Proposal, op TimelockOp, key string) chain.TxRequest {
	tb.Helper()
	r, err := ExecuteRequest(p.Timelock, op, key)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// Off-chain EIP-712 signatures count toward the threshold, alone or with an approveHash.
func TestThresholdBySignatures(t *testing.T) {
	c := newGovChain(t)
	p := c.propose(t)
	sigs := []Signature{signHash(t, c, 1, p.SafeTxHash), signHash(t, c, 2, p.SafeTxHash)}
	if pr := c.progress(t, p, sigs...); pr.Phase != PhaseApproved {
		t.Fatalf("two signatures: %s", pr.Phase)
	}
	c.execSafe(t, p, sigs...)
	if pr := c.progress(t, p); pr.Phase != PhaseScheduled {
		t.Fatalf("after exec by signatures: %s", pr.Phase)
	}

	// mixed: one approveHash, one signature, on a second release's proposal
	r := c.request()
	r.ReleaseID = "release/demo/1.5.0"
	r.Next, r.Previous = c.v1, c.v2 // any change: ids differ by salt
	st, _ := ReadState(context.Background(), c.client, c.gov, c.worker.Address)
	p2, err := Propose(c.gov, r, st.Nonce, st.MinDelay)
	if err != nil {
		t.Fatal(err)
	}
	c.approve(t, c.owners[0], p2.SafeTxHash)
	c.execSafe(t, p2, signHash(t, c, 1, p2.SafeTxHash))
	if pr := c.progress(t, p2); pr.Phase != PhaseScheduled {
		t.Fatalf("mixed approvals: %s", pr.Phase)
	}
}

func signHash(tb testing.TB, c *govChain, owner int, h common.Hash) Signature {
	tb.Helper()
	priv, ok := c.privs[c.owners[owner].Address]
	if !ok {
		tb.Fatal("no private key")
	}
	sig, err := crypto.Sign(h[:], priv)
	if err != nil {
		tb.Fatal(err)
	}
	sig[64] += 27
	return Signature{Owner: c.owners[owner].Address, Sig: sig}
}

// A wrong owner, a changed calldata and a reused nonce are each refused before a transaction.
func TestRefusals(t *testing.T) {
	c := newGovChain(t)
	ctx := context.Background()
	p := c.propose(t)
	start := c.workerNonce(t)

	// a stranger's signature, and a signature claiming another owner
	stranger := Signature{Owner: c.stranger.Address}
	if sig, err := crypto.Sign(p.SafeTxHash[:], c.privs[c.stranger.Address]); err == nil {
		stranger.Sig = sig
	}
	if _, err := ExecSafeRequest(ctx, c.client, p, []Signature{signHash(t, c, 0, p.SafeTxHash), stranger}, "x"); err == nil || !strings.Contains(err.Error(), "not an owner") {
		t.Fatalf("stranger's signature: %v", err)
	}
	forged := stranger
	forged.Owner = c.owners[1].Address
	if _, err := ExecSafeRequest(ctx, c.client, p, []Signature{signHash(t, c, 0, p.SafeTxHash), forged}, "x"); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("signature claiming another owner: %v", err)
	}
	// a stranger's approveHash: the Safe itself refuses it (GS030)
	data, _ := safeABI().Pack("approveHash", [32]byte(p.SafeTxHash))
	safe := c.gov.Safe
	if _, err := chain.SignTx(ctx, c.client, c.stranger, c.ownerNS, chain.TxRequest{OpKey: "stranger-approve", To: &safe, Data: data, ErrorABI: safeABI()}); err == nil || !strings.Contains(err.Error(), "GS030") {
		t.Fatalf("stranger's approveHash: %v", err)
	}

	// changed calldata after the owners approved
	c.approve(t, c.owners[0], p.SafeTxHash)
	c.approve(t, c.owners[1], p.SafeTxHash)
	changed := *p
	changed.SafeTx.Data = slices.Clone(p.SafeTx.Data)
	changed.SafeTx.Data[len(changed.SafeTx.Data)-40] ^= 1
	if _, err := ExecSafeRequest(ctx, c.client, &changed, nil, "x"); err == nil || !strings.Contains(err.Error(), "changed transaction") {
		t.Fatalf("changed calldata: %v", err)
	}
	// recomputed hash for the changed calldata: nobody approved it
	if h, _ := changed.SafeTx.Hash(); true {
		changed.SafeTxHash = h
	}
	if _, err := ExecSafeRequest(ctx, c.client, &changed, nil, "x"); !errors.Is(err, ErrNotApproved) {
		t.Fatalf("changed calldata with its own hash: %v", err)
	}
	if n := c.workerNonce(t); n != start {
		t.Fatalf("refusals sent %d transactions", n-start)
	}

	// reused nonce: once the proposal ran, a proposal at the same nonce is refused
	c.execSafe(t, p)
	r := c.request()
	r.ReleaseID = "release/demo/1.5.0"
	reused, err := Propose(c.gov, r, p.SafeTx.Nonce, testDelay)
	if err != nil {
		t.Fatal(err)
	}
	c.approve(t, c.owners[0], reused.SafeTxHash)
	c.approve(t, c.owners[1], reused.SafeTxHash)
	if pr := c.progress(t, reused); pr.Phase != PhaseRejected {
		t.Fatalf("proposal at a used nonce: phase %s", pr.Phase)
	}
	if _, err := ExecSafeRequest(ctx, c.client, reused, nil, "y"); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("proposal at a used nonce: %v", err)
	}
}

// Aborting: the Safe cancels the scheduled operations; the proposal reads as cancelled and the
// upgrade can no longer run.
func TestAbortCancelsThroughSafe(t *testing.T) {
	c := newGovChain(t)
	ctx := context.Background()
	p := c.propose(t)
	c.approve(t, c.owners[0], p.SafeTxHash)
	c.approve(t, c.owners[1], p.SafeTxHash)
	c.execSafe(t, p)
	tx, h, err := CancelTx(c.gov, p, []TimelockOp{p.Upgrade, p.Revert}, p.SafeTx.Nonce+1)
	if err != nil {
		t.Fatal(err)
	}
	c.approve(t, c.owners[1], h)
	c.approve(t, c.owners[2], h)
	cancel := &Proposal{Request: p.Request, Timelock: p.Timelock, SafeTx: tx, SafeTxHash: h}
	req, err := ExecSafeRequest(ctx, c.client, cancel, nil, "cancel")
	if err != nil {
		t.Fatal(err)
	}
	c.send(t, c.worker, c.nonces, req)
	if pr := c.progress(t, p); pr.Phase != PhaseCancelled {
		t.Fatalf("after cancel: %s", pr.Phase)
	}
	_ = c.sim.AdjustTime(time.Duration(testDelay) * time.Second)
	c.sim.Commit()
	if _, err := c.client.CallContract(ctx, ethereum.CallMsg{From: c.worker.Address, To: &p.Timelock, Data: mustExecute(t, p, p.Upgrade, "z").Data}, nil); err == nil {
		t.Fatal("a cancelled upgrade still executes")
	}
}

// CheckPolicy: the policy's own form of the governance, as Plan uses it.
func TestCheckPolicyFromReleaseChain(t *testing.T) {
	c := newGovChain(t)
	ch := release.Chain{Name: "mainnet", ChainID: 1337, Governance: &release.Governance{
		Safe: c.gov.Safe.Hex(), Timelock: c.gov.Timelock.Hex(), MultiSend: c.gov.MultiSend.Hex(),
		Owners: []string{c.owners[1].Address.Hex(), c.owners[0].Address.Hex(), c.owners[2].Address.Hex()}, Threshold: 2, MinDelay: release.Duration(testDelay * time.Second),
	}}
	if _, err := CheckPolicy(context.Background(), c.client, ch, c.worker.Address); err != nil {
		t.Fatalf("matching policy: %v", err)
	}
	ch.Governance.MinDelay = release.Duration(2 * testDelay * time.Second)
	if _, err := CheckPolicy(context.Background(), c.client, ch, c.worker.Address); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "chain mainnet: governance") {
		t.Fatalf("delay mismatch: %v", err)
	}
}

// The summary carries every fact the owners check, taken from the proposal's own bytes.
func TestProposalSummary(t *testing.T) {
	c := newGovChain(t)
	p := c.propose(t)
	s := strings.Join(p.Summary(), "\n")
	for _, want := range []string{
		"Safe " + c.gov.Safe.Hex() + " on chain 1337, nonce 0", "safeTxHash " + p.SafeTxHash.Hex(), "to " + c.gov.MultiSend.Hex(),
		"from " + c.v1.Hex() + " to " + c.v2.Hex() + ", runtime code keccak256 " + p.Request.NextCodeHash.Hex(),
		"delay 1h0m0s", "operation upgrade " + p.Upgrade.ID.Hex(), "operation revert " + p.Revert.ID.Hex(),
		"  " + c.gov.MultiSend.Hex() + ".multiSend(", "    " + c.gov.Timelock.Hex() + ".schedule(target=" + c.proxy.Hex(),
		"      " + c.proxy.Hex() + ".upgradeToAndCall(newImplementation=" + c.v2.Hex(),
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	t.Log("\n" + s)
}

func TestSafeVersionCheck(t *testing.T) {
	for v, want := range map[string]bool{"1.5.0": true, "1.3.0": true, "1.10.1": true, "1.2.0": false, "1.1.1": false, "2.0.0": false, "": false, "x": false} {
		if got := versionAtLeast13(v); got != want {
			t.Errorf("%q: %v", v, got)
		}
	}
}
