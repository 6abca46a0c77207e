package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/chain/safe"
	"github.com/shipgate/shipgate/internal/release"
)

// safe-sign signs the hash it recomputes from the pending proposal's fields: a field changed
// after the proposal (here a byte of the calldata the owners would execute) makes the fields
// hash to something else than the safeTxHash shown, and nothing is signed.
func TestSafeSignRecomputesTheHash(t *testing.T) {
	a := func(b byte) common.Address { return common.BytesToAddress([]byte{b}) }
	p, err := safe.Propose(safe.Governance{ChainID: 31338, Safe: a(1), Timelock: a(2), MultiSend: a(3)},
		safe.UpgradeRequest{ReleaseID: "release/demo/2.0.0", Contract: "Counter", Kind: safe.KindUUPS, Proxy: a(4), Next: a(5), Previous: a(6)}, 7, 60)
	if err != nil {
		t.Fatal(err)
	}
	status := func(p *safe.Proposal) release.Status {
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return release.Status{Governance: []release.GovernedUpgrade{{Contract: "Counter", Chain: "mainnet", Phase: release.GovProposed, SafeTxHash: p.SafeTxHash.Hex(), Proposal: raw}}}
	}
	got, err := pendingProposal(status(p), "")
	if err != nil || got.SafeTxHash != p.SafeTxHash {
		t.Fatalf("the untouched proposal: %v, %v", got, err)
	}
	changed := *p
	changed.SafeTx.Data = append([]byte(nil), p.SafeTx.Data...)
	changed.SafeTx.Data[len(changed.SafeTx.Data)-1] ^= 1
	if _, err := pendingProposal(status(&changed), ""); err == nil || !strings.Contains(err.Error(), "refusing to sign") {
		t.Fatalf("a changed calldata byte: %v, want a refusal", err)
	}
	if _, err := pendingProposal(status(p), "Other"); err == nil || !strings.Contains(err.Error(), "no governed proposal awaits approvals") {
		t.Fatalf("another contract: %v", err)
	}
}
