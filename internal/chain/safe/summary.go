package safe

import (
	"fmt"
	"time"
)

// Summary is what the owners must check on their own devices before they approve, one fact a
// line, for status, the Temporal UI's details and the Slack signoff message: the Safe and its
// nonce, the safeTxHash their wallet must show, the call's target, the upgrade with the new
// implementation's code hash, the timelock operations and the delay, and the calldata decoded
// from the very bytes the hash covers.
func (p *Proposal) Summary() []string {
	r := p.Request
	out := []string{
		fmt.Sprintf("Safe %s on chain %d, nonce %d", p.SafeTx.Safe.Hex(), p.SafeTx.ChainID, p.SafeTx.Nonce),
		fmt.Sprintf("safeTxHash %s (your wallet must show this hash)", p.SafeTxHash.Hex()),
		fmt.Sprintf("to %s (MultiSendCallOnly, delegatecall), value 0", p.SafeTx.To.Hex()),
		fmt.Sprintf("upgrade %s proxy %s (%s) from %s to %s, runtime code keccak256 %s", r.Contract, r.Proxy.Hex(), r.Kind, r.Previous.Hex(), r.Next.Hex(), r.NextCodeHash.Hex()),
		fmt.Sprintf("timelock %s, delay %s", p.Timelock.Hex(), time.Duration(p.Delay)*time.Second),
		fmt.Sprintf("operation upgrade %s", p.Upgrade.ID.Hex()),
		fmt.Sprintf("operation revert %s (after the upgrade only: the rollback, ready when the upgrade lands)", p.Revert.ID.Hex()),
		"calldata:",
	}
	for _, l := range Lines(p.Decoded) {
		out = append(out, "  "+l)
	}
	return out
}
