package safe

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// Operation is a Safe transaction's call type.
type Operation uint8

// Safe operations: a plain call, or a delegatecall (used only into MultiSendCallOnly).
const (
	OperationCall         Operation = 0
	OperationDelegateCall Operation = 1
)

// SafeTx is a Safe transaction as its owners sign it. shipgate never pays refunds: the gas
// fields are zero and the worker's own transaction pays for execution.
type SafeTx struct {
	Safe    common.Address `json:"safe"`
	ChainID uint64         `json:"chainId"`
	To      common.Address `json:"to"`
	Value   *hexutil.Big   `json:"value"`
	Data    hexutil.Bytes  `json:"data"`
	// Operation 1 (delegatecall) is allowed only into MultiSendCallOnly; Propose enforces it.
	Operation      Operation      `json:"operation"`
	SafeTxGas      *hexutil.Big   `json:"safeTxGas"`
	BaseGas        *hexutil.Big   `json:"baseGas"`
	GasPrice       *hexutil.Big   `json:"gasPrice"`
	GasToken       common.Address `json:"gasToken"`
	RefundReceiver common.Address `json:"refundReceiver"`
	Nonce          uint64         `json:"nonce"`
}

func bigOrZero(b *hexutil.Big) *big.Int {
	if b == nil {
		return new(big.Int)
	}
	return b.ToInt()
}

// TypedData is the EIP-712 message an owner's wallet shows and signs: domain
// {chainId, verifyingContract} and the SafeTx struct of Safe v1.3.0 and later.
func (t *SafeTx) TypedData() apitypes.TypedData {
	chainID := math.NewHexOrDecimal256(int64(t.ChainID))
	return apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": {
				{Name: "chainId", Type: "uint256"},
				{Name: "verifyingContract", Type: "address"},
			},
			"SafeTx": {
				{Name: "to", Type: "address"},
				{Name: "value", Type: "uint256"},
				{Name: "data", Type: "bytes"},
				{Name: "operation", Type: "uint8"},
				{Name: "safeTxGas", Type: "uint256"},
				{Name: "baseGas", Type: "uint256"},
				{Name: "gasPrice", Type: "uint256"},
				{Name: "gasToken", Type: "address"},
				{Name: "refundReceiver", Type: "address"},
				{Name: "nonce", Type: "uint256"},
			},
		},
		PrimaryType: "SafeTx",
		Domain:      apitypes.TypedDataDomain{ChainId: chainID, VerifyingContract: t.Safe.Hex()},
		Message: apitypes.TypedDataMessage{
			"to":             t.To.Hex(),
			"value":          bigOrZero(t.Value).String(),
			"data":           []byte(t.Data),
			"operation":      fmt.Sprint(uint8(t.Operation)),
			"safeTxGas":      bigOrZero(t.SafeTxGas).String(),
			"baseGas":        bigOrZero(t.BaseGas).String(),
			"gasPrice":       bigOrZero(t.GasPrice).String(),
			"gasToken":       t.GasToken.Hex(),
			"refundReceiver": t.RefundReceiver.Hex(),
			"nonce":          new(big.Int).SetUint64(t.Nonce).String(),
		},
	}
}

// Hash is the safeTxHash: keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(SafeTx)), computed
// with go-ethereum's EIP-712 implementation. It equals the Safe's getTransactionHash for the
// same fields (tested against the contract) and is what owners compare on their devices.
func (t *SafeTx) Hash() (common.Hash, error) {
	h, _, err := apitypes.TypedDataAndHash(t.TypedData())
	if err != nil {
		return common.Hash{}, fmt.Errorf("safeTxHash of Safe %s nonce %d: %w", t.Safe.Hex(), t.Nonce, err)
	}
	return common.BytesToHash(h), nil
}

// Signature is one owner's consent to a safeTxHash: either an on-chain approveHash by Owner
// (Sig empty) or a 65-byte EIP-712 ECDSA signature [r ‖ s ‖ v] (v 27/28) by Owner.
type Signature struct {
	Owner common.Address `json:"owner"`
	Sig   hexutil.Bytes  `json:"sig,omitempty"`
}

// ErrBadSignature: a signature does not recover to the owner it claims.
var ErrBadSignature = errors.New("signature does not recover to its owner")

// RecoverSigner returns the address that signed hash with a 65-byte [r ‖ s ‖ v] signature.
func RecoverSigner(hash common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != crypto.SignatureLength {
		return common.Address{}, fmt.Errorf("signature: %d bytes, want %d", len(sig), crypto.SignatureLength)
	}
	s := bytes.Clone(sig)
	if s[64] >= 27 {
		s[64] -= 27
	}
	if s[64] > 1 {
		return common.Address{}, fmt.Errorf("signature: v %d is not 27 or 28 (eth_sign signatures are not accepted)", sig[64])
	}
	pub, err := crypto.SigToPub(hash[:], s)
	if err != nil {
		return common.Address{}, fmt.Errorf("signature: %w", err)
	}
	return crypto.PubkeyToAddress(*pub), nil
}

// EncodeSignatures builds execTransaction's signatures argument: one 65-byte entry per
// signature sorted by owner address ascending, as the Safe requires. An approveHash entry is
// r = owner, s = 0, v = 1 (the Safe checks approvedHashes[owner][hash] or msg.sender == owner);
// an ECDSA signature is checked here to recover to its owner before it is used.
func EncodeSignatures(hash common.Hash, sigs []Signature) ([]byte, error) {
	sorted := append([]Signature(nil), sigs...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i].Owner[:], sorted[j].Owner[:]) < 0 })
	var out []byte
	for i, s := range sorted {
		if i > 0 && sorted[i-1].Owner == s.Owner {
			return nil, fmt.Errorf("signatures: owner %s twice", s.Owner.Hex())
		}
		if len(s.Sig) == 0 {
			entry := make([]byte, 65)
			copy(entry[12:32], s.Owner[:])
			entry[64] = 1
			out = append(out, entry...)
			continue
		}
		signer, err := RecoverSigner(hash, s.Sig)
		if err != nil {
			return nil, fmt.Errorf("signature of %s: %w", s.Owner.Hex(), err)
		}
		if signer != s.Owner {
			return nil, fmt.Errorf("signature of %s: %w (it recovers to %s)", s.Owner.Hex(), ErrBadSignature, signer.Hex())
		}
		entry := bytes.Clone(s.Sig)
		if entry[64] < 27 {
			entry[64] += 27
		}
		out = append(out, entry...)
	}
	return out, nil
}
