package safe

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/chain"
)

// ownersExecSelf: two owners approve a Safe transaction to the Safe itself at the Safe's
// nonce, and the worker executes it (owner management, as owners do it).
func (c *govChain) ownersExecSelf(tb testing.TB, name string, data []byte) {
	tb.Helper()
	n, err := Nonce(context.Background(), c.client, c.gov.Safe)
	if err != nil {
		tb.Fatal(err)
	}
	tx, h, err := SelfTx(c.gov.Safe, c.gov.ChainID, data, n)
	if err != nil {
		tb.Fatal(err)
	}
	c.approve(tb, c.owners[0], h)
	c.approve(tb, c.owners[1], h)
	req, err := ExecSafeTxRequest(context.Background(), c.client, tx, h, nil, name)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	c.send(tb, c.worker, c.nonces, req)
}

// withModule enables the stranger's key as a module of the Safe (a real Safe feature: a
// recovery or roles module changes owners without the owners' signatures or a nonce).
func (c *govChain) withModule(tb testing.TB) {
	tb.Helper()
	data, err := EnableModuleData(c.stranger.Address)
	if err != nil {
		tb.Fatal(err)
	}
	c.ownersExecSelf(tb, "enable-module", data)
}

// moduleCall: the module makes the Safe call itself with data; no Safe nonce is used.
func (c *govChain) moduleCall(tb testing.TB, name string, data []byte) {
	tb.Helper()
	call, err := ModuleCallData(c.gov.Safe, data)
	if err != nil {
		tb.Fatal(err)
	}
	safe := c.gov.Safe
	c.send(tb, c.stranger, c.ownerNS, chain.TxRequest{OpKey: "module/" + name, To: &safe, Data: call, ErrorABI: safeABI()})
}

// approvedWithModule is a governance chain whose Safe has a module, and a proposal two of its
// three owners approved.
func approvedWithModule(t *testing.T) (*govChain, *Proposal) {
	t.Helper()
	c := newGovChain(t)
	c.withModule(t)
	p := c.propose(t)
	c.approve(t, c.owners[0], p.SafeTxHash)
	c.approve(t, c.owners[1], p.SafeTxHash)
	return c, p
}

// The owners' approvals counted, then one of them made invalid before the execution (the
// owner removed by a module: the nonce stays free): the watch's progress goes back to
// awaiting approvals, the worker's execution is refused before anything is signed with a
// refusal naming the Safe, nonce, safeTxHash and count (ErrNotApproved: more approvals can
// lift it), the Safe itself refuses the old approvals with GS026, and a third owner's
// approval lets the same Safe transaction execute.
func TestExecRefusedWhenAnOwnerIsRemoved(t *testing.T) {
	c, p := approvedWithModule(t)
	ctx := context.Background()
	if pr := c.progress(t, p); pr.Phase != PhaseApproved {
		t.Fatalf("two approvals: %+v", pr)
	}
	data, err := RemoveOwnerData(ctx, c.client, c.gov.Safe, c.owners[1].Address, 2)
	if err != nil {
		t.Fatal(err)
	}
	c.moduleCall(t, "remove-owner", data)
	if n, _ := Nonce(ctx, c.client, c.gov.Safe); n != p.SafeTx.Nonce {
		t.Fatalf("the module used a nonce: %d, proposal at %d", n, p.SafeTx.Nonce)
	}
	pr := c.progress(t, p)
	if pr.Phase != PhaseAwaitingApprovals || len(pr.Approved) != 1 {
		t.Fatalf("an approving owner removed: %+v", pr)
	}
	start := c.workerNonce(t)
	_, err = ExecSafeRequest(ctx, c.client, p, nil, "x")
	var r *Refusal
	if !errors.Is(err, ErrNotApproved) || !errors.As(err, &r) {
		t.Fatalf("exec with a removed owner's approval: %v", err)
	}
	for _, want := range []string{"Safe " + c.gov.Safe.Hex(), "safeTxHash " + p.SafeTxHash.Hex(), "(nonce 1)", "1 of 2 approvals by current owners"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("refusal %q lacks %q", err, want)
		}
	}
	// what the Safe itself says of the old approvals: the removed owner is invalid
	enc, err := EncodeSignatures(p.SafeTxHash, []Signature{{Owner: c.owners[0].Address}, {Owner: c.owners[1].Address}})
	if err != nil {
		t.Fatal(err)
	}
	call, err := ExecTransactionData(p.SafeTx, enc)
	if err != nil {
		t.Fatal(err)
	}
	err = simulateExec(ctx, c.client, p.SafeTx, p.SafeTxHash, call)
	if !errors.As(err, &r) || r.Code != "GS026" || !r.Approvals || !strings.Contains(err.Error(), "GS026 (invalid owner provided") {
		t.Fatalf("the Safe on a removed owner's approval: %v", err)
	}
	if n := c.workerNonce(t); n != start {
		t.Fatalf("refusals sent %d transactions", n-start)
	}
	c.approve(t, c.owners[2], p.SafeTxHash)
	if pr := c.progress(t, p); pr.Phase != PhaseApproved {
		t.Fatalf("a third owner approved: %+v", pr)
	}
	c.execSafe(t, p)
	if pr := c.progress(t, p); pr.Phase != PhaseScheduled {
		t.Fatalf("after the execution: %+v", pr)
	}
}

// The worker's execTransaction signed while the approvals added up, then the threshold raised
// (by a module: the nonce stays free) before it is mined: it reverts on chain with GS020;
// ExplainRevert reads the chain and says the approvals no longer add up (2 of 3), with the
// Safe, nonce and safeTxHash; the Safe nonce is unused and the proposal awaits approvals.
func TestMinedExecRefusedWhenThresholdRaised(t *testing.T) {
	c, p := approvedWithModule(t)
	ctx := context.Background()
	opKey := "exec-safe"
	s, err := SignStep(ctx, c.client, c.worker, c.nonces, opKey, func() (chain.TxRequest, error) {
		return ExecSafeRequest(ctx, c.client, p, nil, opKey)
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := ChangeThresholdData(3)
	if err != nil {
		t.Fatal(err)
	}
	c.moduleCall(t, "threshold-3", data)
	if _, err := chain.Broadcast(ctx, c.client, s.Raw); err != nil {
		t.Fatal(err)
	}
	w := c.waitOpts()
	w.ErrorABI = safeABI()
	_, err = chain.WaitConfirmed(ctx, c.client, s.Raw, w)
	if !errors.Is(err, chain.ErrReverted) || !strings.Contains(err.Error(), "GS020") {
		t.Fatalf("execTransaction after the threshold rose: %v", err)
	}
	err = ExplainRevert(ctx, c.client, p.SafeTx, p.SafeTxHash, nil, err.Error())
	var r *Refusal
	if !errors.Is(err, ErrNotApproved) || !errors.As(err, &r) || !strings.Contains(err.Error(), "2 of 3 approvals") || r.Nonce != p.SafeTx.Nonce || r.SafeTxHash != p.SafeTxHash {
		t.Fatalf("why it reverted: %v", err)
	}
	if pr := c.progress(t, p); pr.Phase != PhaseAwaitingApprovals || pr.SafeNonce != p.SafeTx.Nonce {
		t.Fatalf("after the revert: %+v", pr)
	}
}

func TestRefusalOfRevertData(t *testing.T) {
	errorString := func(s string) []byte {
		st, _ := abi.NewType("string", "", nil)
		enc, err := abi.Arguments{{Type: st}}.Pack(s)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte{0x08, 0xc3, 0x79, 0xa0}, enc...)
	}
	for _, tc := range []struct {
		data      []byte
		code      string
		approvals bool
	}{
		{errorString("GS026"), "GS026", true},
		{errorString("GS020"), "GS020", true},
		{errorString("GS013"), "GS013", false},
		{errorString("GS999"), "GS999", false},
		{errorString("Ownable: caller is not the owner"), "", false},
		{[]byte{1, 2}, "", false},
	} {
		r := refusalOf(SafeTx{Nonce: 4}, common.Hash{1}, tc.data)
		switch {
		case tc.code == "" && r != nil:
			t.Fatalf("%x: %v, want no Safe code", tc.data, r)
		case tc.code != "" && (r == nil || r.Code != tc.code || r.Approvals != tc.approvals || r.Detail == ""):
			t.Fatalf("%x: %+v, want %s approvals %t", tc.data, r, tc.code, tc.approvals)
		}
	}
}

// The rejection of a proposal the Safe has not executed: a Safe transaction at the same
// nonce to the Safe itself that does nothing. Once it executes, the proposal, approved by the
// threshold or not, can never execute (its nonce is used) and reads as rejected; a rejection
// of a proposal that already executed is nil (the cancellation's business).
func TestRejectionUsesTheProposalsNonce(t *testing.T) {
	c := newGovChain(t)
	ctx := context.Background()
	p := c.propose(t)
	c.approve(t, c.owners[0], p.SafeTxHash) // one approval: with their own sender, owner 1 could execute it
	rj, err := ProposeReject(ctx, c.client, p)
	if err != nil || rj == nil || !rj.Rejection() {
		t.Fatalf("rejection: %+v, %v", rj, err)
	}
	if rj.SafeTx.Nonce != p.SafeTx.Nonce || rj.SafeTx.To != c.gov.Safe || len(rj.SafeTx.Data) != 0 || rj.Of != p.SafeTxHash {
		t.Fatalf("rejection fields: %+v", rj.SafeTx)
	}
	if got := view(t, c, c.gov.Safe, safeABI(), "getTransactionHash", rj.SafeTx.To, bigOrZero(rj.SafeTx.Value), []byte(rj.SafeTx.Data), uint8(rj.SafeTx.Operation),
		bigOrZero(rj.SafeTx.SafeTxGas), bigOrZero(rj.SafeTx.BaseGas), bigOrZero(rj.SafeTx.GasPrice), rj.SafeTx.GasToken, rj.SafeTx.RefundReceiver, new(big.Int).SetUint64(rj.SafeTx.Nonce))[0].([32]byte); common.Hash(got) != rj.SafeTxHash {
		t.Fatalf("rejection safeTxHash %s, the Safe computes %s", rj.SafeTxHash.Hex(), common.Hash(got).Hex())
	}
	summary := strings.Join(rj.Summary(), "\n")
	for _, want := range []string{"reject the proposal " + p.SafeTxHash.Hex(), "nonce 0", "safeTxHash " + rj.SafeTxHash.Hex(), "the Safe itself"} {
		if !strings.Contains(summary, want) {
			t.Fatalf("summary lacks %q:\n%s", want, summary)
		}
	}
	c.approve(t, c.owners[1], rj.SafeTxHash)
	c.approve(t, c.owners[2], rj.SafeTxHash)
	if pr, err := CancelProgress(ctx, c.client, rj); err != nil || pr.Phase != PhaseApproved {
		t.Fatalf("rejection approved: %+v, %v", pr, err)
	}
	req, err := ExecSafeTxRequest(ctx, c.client, rj.SafeTx, rj.SafeTxHash, nil, "reject")
	if err != nil {
		t.Fatal(err)
	}
	c.send(t, c.worker, c.nonces, req)
	if done, err := rj.Cancelled(ctx, c.client); err != nil || !done {
		t.Fatalf("after the rejection executed: %t, %v", done, err)
	}
	c.approve(t, c.owners[1], p.SafeTxHash) // the threshold, too late
	if pr := c.progress(t, p); pr.Phase != PhaseRejected {
		t.Fatalf("the rejected proposal: %+v", pr)
	}
	if _, err := ExecSafeRequest(ctx, c.client, p, nil, "late"); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("the rejected proposal executes: %v", err)
	}
	if rj, err := ProposeReject(ctx, c.client, p); rj != nil || err != nil {
		t.Fatalf("a rejection of a settled proposal: %+v, %v", rj, err)
	}
}
