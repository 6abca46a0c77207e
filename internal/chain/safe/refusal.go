package safe

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/chain"
)

// safeErrors are the Safe's revert codes (safe-smart-account, docs/error_codes.md) that an
// execTransaction can meet, with their meaning: the Safe reverts with the bare code.
var safeErrors = map[string]string{
	"GS010": "not enough gas to execute the Safe transaction",
	"GS011": "could not pay gas costs with ether",
	"GS012": "could not pay gas costs with token",
	"GS013": "the Safe transaction's call failed (safeTxGas and gasPrice 0): the target refused it",
	"GS020": "signatures data too short: fewer signatures than the Safe's threshold",
	"GS021": "invalid contract signature location: inside static part",
	"GS022": "invalid contract signature location: length not present",
	"GS023": "invalid contract signature location: data not complete",
	"GS024": "invalid contract signature provided",
	"GS025": "hash has not been approved: an approveHash is missing for this safeTxHash",
	"GS026": "invalid owner provided: a signer is not (or no longer) an owner, or signatures are out of order",
	"GS030": "only owners can approve a hash",
	"GS031": "method can only be called from the Safe itself",
	"GS104": "method can only be called from an enabled module",
}

// approvalCodes are the refusals that mean the signatures presented no longer add up to the
// threshold: an owner removed, the threshold raised, an approval missing. More approvals by
// current owners can make the same Safe transaction execute: its nonce is unused, and a
// reverted execTransaction does not use it.
var approvalCodes = []string{"GS020", "GS024", "GS025", "GS026"}

var safeCode = regexp.MustCompile(`^GS[0-9]{3}$`)

// Refusal is the Safe refusing (or, by simulation, about to refuse) the execTransaction of an
// approved Safe transaction. Approvals says whether it is a refusal of the approvals (too few
// valid ones at execution: errors.Is ErrNotApproved), which more approvals can lift; any other
// refusal cannot succeed by retrying.
type Refusal struct {
	Safe       common.Address
	Nonce      uint64
	SafeTxHash common.Hash
	// Code is the Safe's revert code (GS0xx), "" when shipgate refused before asking the Safe
	// (too few approvals counted).
	Code string
	// Detail says what the code means, or what was counted.
	Detail    string
	Approvals bool
}

func (r *Refusal) Error() string {
	what := r.Detail
	if r.Code != "" {
		what = r.Code + " (" + r.Detail + ")"
	}
	return fmt.Sprintf("Safe %s refuses execTransaction of safeTxHash %s (nonce %d): %s", r.Safe.Hex(), r.SafeTxHash.Hex(), r.Nonce, what)
}

// Is makes a refusal of the approvals an ErrNotApproved.
func (r *Refusal) Is(target error) bool { return target == ErrNotApproved && r.Approvals }

// refusalOf reads a Safe's revert data as a Refusal of t (nil: not a Safe code).
func refusalOf(t SafeTx, hash common.Hash, data []byte) *Refusal {
	reason, err := abi.UnpackRevert(data)
	if err != nil || !safeCode.MatchString(reason) {
		return nil
	}
	detail, ok := safeErrors[reason]
	if !ok {
		detail = "see the Safe's error codes"
	}
	return &Refusal{Safe: t.Safe, Nonce: t.Nonce, SafeTxHash: hash, Code: reason, Detail: detail, Approvals: slices.Contains(approvalCodes, reason)}
}

// simulateExec asks the Safe, by eth_call at the latest block, whether it would execute data
// (execTransaction of t). A revert with a Safe code is a Refusal; another revert is an error
// naming its reason; a transport failure is returned as is (worth retrying).
func simulateExec(ctx context.Context, b chain.Backend, t SafeTx, hash common.Hash, data []byte) error {
	safe := t.Safe
	_, err := b.CallContract(ctx, ethereum.CallMsg{To: &safe, Data: data}, nil)
	if err == nil {
		return nil
	}
	rd, ok := chain.RevertData(err)
	if !ok {
		if strings.Contains(err.Error(), "execution reverted") {
			return &Refusal{Safe: t.Safe, Nonce: t.Nonce, SafeTxHash: hash, Detail: "reverted without a reason: " + err.Error()}
		}
		return fmt.Errorf("simulate execTransaction of safeTxHash %s on Safe %s: %w", hash.Hex(), t.Safe.Hex(), err)
	}
	if r := refusalOf(t, hash, rd); r != nil {
		return r
	}
	return &Refusal{Safe: t.Safe, Nonce: t.Nonce, SafeTxHash: hash, Detail: "reverted: " + chain.DecodeRevert(rd, safeABI())}
}

// validSignatures is what the Safe would accept for hash now: every owner's approveHash on
// chain plus the off-chain signatures of current owners (a signature whose owner was removed
// since it was handed in counts no more: it is named in dropped), and the threshold.
func validSignatures(ctx context.Context, b chain.Backend, safe common.Address, hash common.Hash, offChain []Signature) (sigs []Signature, threshold uint64, dropped []string, err error) {
	approved, threshold, err := Approvals(ctx, b, safe, hash)
	if err != nil {
		return nil, 0, nil, err
	}
	owners, err := Owners(ctx, b, safe)
	if err != nil {
		return nil, 0, nil, err
	}
	sigs = make([]Signature, 0, len(approved)+len(offChain))
	for _, a := range approved {
		sigs = append(sigs, Signature{Owner: a})
	}
	for _, s := range offChain {
		switch {
		case !slices.Contains(owners, s.Owner):
			dropped = append(dropped, fmt.Sprintf("signature by %s, who is not an owner", s.Owner.Hex()))
		case !slices.Contains(approved, s.Owner):
			sigs = append(sigs, s)
		}
	}
	return sigs, threshold, dropped, nil
}

// CheckExec is the check every execution of an approved Safe transaction goes through, the
// worker's and the watch's alike (so that the watch reports "approved" only when the
// execution would go through): t's nonce is the Safe's, the signatures valid now meet the
// threshold, and the Safe itself accepts the execTransaction (simulated). It returns the
// execTransaction calldata. Errors: ErrNonceUsed, ErrNonceAhead, a *Refusal (ErrNotApproved
// when the approvals do not add up), or a read that failed.
func CheckExec(ctx context.Context, b chain.Backend, t SafeTx, hash common.Hash, offChain []Signature) ([]byte, error) {
	if h, err := t.Hash(); err != nil || h != hash {
		return nil, fmt.Errorf("exec Safe tx: its fields hash to %s, the owners approved %s: refusing a changed transaction", h.Hex(), hash.Hex())
	}
	cur, err := Nonce(ctx, b, t.Safe)
	if err != nil {
		return nil, err
	}
	switch {
	case cur > t.Nonce:
		return nil, fmt.Errorf("exec Safe tx %s: nonce %d, the Safe is at %d: %w", hash.Hex(), t.Nonce, cur, ErrNonceUsed)
	case cur < t.Nonce:
		return nil, fmt.Errorf("exec Safe tx %s: nonce %d, the Safe is at %d: %w", hash.Hex(), t.Nonce, cur, ErrNonceAhead)
	}
	sigs, threshold, dropped, err := validSignatures(ctx, b, t.Safe, hash, offChain)
	if err != nil {
		return nil, err
	}
	if uint64(len(sigs)) < threshold {
		detail := fmt.Sprintf("%d of %d approvals by current owners", len(sigs), threshold)
		if len(dropped) > 0 {
			detail += " (" + strings.Join(dropped, "; ") + ")"
		}
		return nil, &Refusal{Safe: t.Safe, Nonce: t.Nonce, SafeTxHash: hash, Detail: detail, Approvals: true}
	}
	enc, err := EncodeSignatures(hash, sigs)
	if err != nil {
		return nil, fmt.Errorf("exec Safe tx %s: %w", hash.Hex(), err)
	}
	data, err := ExecTransactionData(t, enc)
	if err != nil {
		return nil, err
	}
	if err := simulateExec(ctx, b, t, hash, data); err != nil {
		return nil, err
	}
	return data, nil
}

// ExplainRevert says why a mined execTransaction of t reverted, read from the chain now (a
// reverted execTransaction leaves the Safe's nonce where it was): ErrNonceUsed when the nonce
// has moved on since (another Safe transaction at it, or this one by someone else), the
// Refusal CheckExec meets now (ErrNotApproved: the approvals no longer add up), or, when the
// execution would go through now, a Refusal with the reason the chain gave (reason).
func ExplainRevert(ctx context.Context, b chain.Backend, t SafeTx, hash common.Hash, offChain []Signature, reason string) error {
	_, err := CheckExec(ctx, b, t, hash, offChain)
	var r *Refusal
	switch {
	case err == nil:
		return &Refusal{Safe: t.Safe, Nonce: t.Nonce, SafeTxHash: hash, Detail: "reverted on chain (" + reason + "), though it would execute now"}
	case errors.Is(err, ErrNonceUsed), errors.As(err, &r):
		return err
	}
	return fmt.Errorf("exec Safe tx %s reverted (%s); reading why: %w", hash.Hex(), reason, err)
}

// refusedApprovals is the Safe's refusal of approvals a watch counted as enough (CheckExec's
// Refusal of the approvals, as words), "" when the Safe would execute t or refuses it for
// another reason (the execution then fails, saying why, instead of the watch waiting for
// approvals that cannot help).
func refusedApprovals(ctx context.Context, b chain.Backend, t SafeTx, hash common.Hash, offChain []Signature) (string, error) {
	_, err := CheckExec(ctx, b, t, hash, offChain)
	var r *Refusal
	switch {
	case err == nil, errors.Is(err, ErrNonceUsed), errors.Is(err, ErrNonceAhead):
		return "", nil
	case errors.As(err, &r):
		if r.Approvals {
			return r.Error(), nil
		}
		return "", nil
	}
	return "", err
}
