package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/chain/safe"
	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

// safeSign is a Safe owner's off-chain approval of a governed proposal: it reads the release's
// pending proposal, recomputes the safeTxHash from the proposal's own fields (never trusting
// the hash it is shown: the Bybit owners signed what a compromised UI showed them), prints
// what the owner approves, signs that hash with the owner's key and hands the signature to the
// workflow as a signed command, which checks it recovers to a current owner.
func (c *cli) safeSign(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(release.SignalSafeSign, flag.ContinueOnError)
	var cmd release.Command
	fs.StringVar(&cmd.Actor, "as", "", "who hands the signature in: your member id in the policy; your key must be one of its sshKeys")
	key := keyFlag(fs)
	owner := fs.String("owner-key", "", "the Safe owner's key NAME: a go-ethereum keystore file in "+chain.EnvKeystoreFile+"NAME with its passphrase in "+chain.EnvKeystorePass+"NAME")
	contract := fs.String("contract", "", "the contract whose proposal to sign (default: the only proposal awaiting approvals)")
	dev := fs.Bool("dev", false, "accept a raw hex owner key in "+chain.EnvKeyHex+"NAME (development chains only; refused for a known mainnet)")
	id, err := parse(fs, args, true)
	if err != nil {
		return err
	}
	if cmd.Actor == "" || *owner == "" {
		return &exitError{code: 2, msg: "safe-sign: --as and --owner-key are required"}
	}
	cl, err := c.connect(ctx)
	if err != nil {
		return err
	}
	st, err := control.Status(ctx, cl, id)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("safe-sign %s: %v", id, err)}
	}
	p, err := pendingProposal(st, *contract)
	if err != nil {
		return &exitError{code: 4, msg: fmt.Sprintf("safe-sign %s: %v", id, err)}
	}
	if _, mainnet := release.KnownMainnets[p.SafeTx.ChainID]; *dev && mainnet {
		return &exitError{code: 2, msg: fmt.Sprintf("safe-sign: --dev refused: chain %d is a known mainnet; use a keystore file", p.SafeTx.ChainID)}
	}
	k, err := chain.LoadKeyFrom(*owner, *dev)
	if err != nil {
		return &exitError{code: 1, msg: "safe-sign: " + err.Error()}
	}
	hash, err := p.SafeTx.Hash() // from the fields, not from what status says
	if err != nil {
		return &exitError{code: 1, msg: "safe-sign: " + err.Error()}
	}
	fmt.Fprintf(c.out, "You sign, as owner %s, safeTxHash %s (recomputed from these fields):\n", k.Address.Hex(), hash.Hex())
	for _, l := range p.Summary() {
		fmt.Fprintf(c.out, "  %s\n", l)
	}
	sig, err := k.SignHash(hash)
	if err != nil {
		return &exitError{code: 1, msg: "safe-sign: " + err.Error()}
	}
	cmd.Channel, cmd.SafeTxHash, cmd.SafeSignature = release.ChannelCLI, hash.Hex(), hexutil.Encode(sig)
	signer, err := control.LoadSigner(*key)
	if err != nil {
		return &exitError{code: 1, msg: "safe-sign: " + err.Error()}
	}
	entry, err := control.Send(ctx, cl, signer, id, release.SignalSafeSign, cmd)
	if err != nil {
		return err
	}
	if !entry.Accepted {
		return &exitError{code: 4, msg: fmt.Sprintf("safe-sign %s: %s", id, entry.Reason)}
	}
	fmt.Fprintf(c.out, "safe-sign %s: accepted (%s)\n", id, entry.Reason)
	return nil
}

// pendingProposal is the release's governed proposal awaiting the owners (of contract, when
// named), decoded from its fields; its fields must hash to the safeTxHash status shows, or
// someone changed one of them and nothing is signed.
func pendingProposal(st release.Status, contract string) (*safe.Proposal, error) {
	var found []release.GovernedUpgrade
	for _, g := range st.Governance {
		if g.Phase == release.GovProposed && (contract == "" || g.Contract == contract) {
			found = append(found, g)
		}
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("no governed proposal awaits approvals (phases: %s)", phases(st))
	case len(found) > 1:
		return nil, fmt.Errorf("%d proposals await approvals: name one with --contract", len(found))
	}
	var p safe.Proposal
	if err := json.Unmarshal(found[0].Proposal, &p); err != nil {
		return nil, fmt.Errorf("the proposal of %s: %w", found[0].Contract, err)
	}
	h, err := p.SafeTx.Hash()
	if err != nil {
		return nil, err
	}
	if h.Hex() != found[0].SafeTxHash || h != p.SafeTxHash {
		return nil, fmt.Errorf("the proposal's fields hash to %s, but status shows safeTxHash %s: refusing to sign", h.Hex(), found[0].SafeTxHash)
	}
	return &p, nil
}

func phases(st release.Status) string {
	var out []string
	for _, g := range st.Governance {
		out = append(out, g.Contract+" on "+g.Chain+": "+g.Phase)
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
