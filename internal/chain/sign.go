package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// TxParams are the fields of an EIP-1559 transaction that the caller decides.
type TxParams struct {
	ChainID   *big.Int
	Nonce     uint64
	GasTipCap *big.Int // max priority fee per gas, wei
	GasFeeCap *big.Int // max fee per gas, wei
	Gas       uint64   // gas limit, estimated by the caller or given
	Value     *big.Int // nil means 0
}

// SignedTx is what enters workflow history: the exact bytes to broadcast and what they do.
// It marshals to JSON with hex fields; it holds nothing secret.
type SignedTx struct {
	Raw     hexutil.Bytes   `json:"raw"`
	Hash    common.Hash     `json:"hash"`
	ChainID uint64          `json:"chainId"`
	From    common.Address  `json:"from"`
	To      *common.Address `json:"to,omitempty"` // nil for CREATE
	Nonce   uint64          `json:"nonce"`
	// ContractAddress is the CREATE address crypto.CreateAddress(from, nonce); nil for calls.
	ContractAddress *common.Address `json:"contractAddress,omitempty"`
}

// Transaction decodes Raw.
func (s *SignedTx) Transaction() (*types.Transaction, error) {
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(s.Raw); err != nil {
		return nil, fmt.Errorf("signed transaction %s: %w", s.Hash.Hex(), err)
	}
	return tx, nil
}

// SignDeploy signs a contract creation with data = creation code + constructor arguments
// (Artifact.DeployData) and predicts the contract's address.
func SignDeploy(ctx context.Context, key *Key, p TxParams, data []byte) (*SignedTx, error) {
	if len(data) == 0 {
		return nil, errors.New("sign deploy: empty creation code")
	}
	s, err := sign(ctx, key, p, nil, data)
	if err != nil {
		return nil, err
	}
	addr := crypto.CreateAddress(key.Address, p.Nonce)
	s.ContractAddress = &addr
	return s, nil
}

// SignCall signs a call of to with data (e.g. UpgradeToAndCallData).
func SignCall(ctx context.Context, key *Key, p TxParams, to common.Address, data []byte) (*SignedTx, error) {
	return sign(ctx, key, p, &to, data)
}

// sign has key's signer sign the transaction p, to and data describe, and accepts the answer
// only if it is exactly that transaction signed by key's address (checkSigned): whatever signs,
// in process or in Clef, the bytes that enter history are the ones the release decided.
func sign(ctx context.Context, key *Key, p TxParams, to *common.Address, data []byte) (*SignedTx, error) {
	if key == nil || key.signer == nil {
		return nil, errors.New("sign: no key")
	}
	switch {
	case p.ChainID == nil || p.ChainID.Sign() <= 0 || !p.ChainID.IsUint64():
		return nil, fmt.Errorf("sign: chain id %v is not a positive 64-bit number", p.ChainID)
	case p.GasTipCap == nil || p.GasFeeCap == nil || p.GasTipCap.Sign() < 0:
		return nil, errors.New("sign: gas tip cap and fee cap are required and not negative")
	case p.GasFeeCap.Cmp(p.GasTipCap) < 0:
		return nil, fmt.Errorf("sign: fee cap %s is below tip cap %s", p.GasFeeCap, p.GasTipCap)
	case p.Gas == 0:
		return nil, errors.New("sign: gas limit is 0: estimate it first")
	}
	value := p.Value
	if value == nil {
		value = new(big.Int)
	}
	unsigned := types.NewTx(&types.DynamicFeeTx{
		ChainID:   p.ChainID,
		Nonce:     p.Nonce,
		GasTipCap: p.GasTipCap,
		GasFeeCap: p.GasFeeCap,
		Gas:       p.Gas,
		To:        to,
		Value:     value,
		Data:      data,
	})
	tx, err := key.signer.SignTx(ctx, unsigned, p.ChainID)
	if err != nil {
		return nil, fmt.Errorf("sign with %s: %w", key, err)
	}
	if err := checkSigned(unsigned, tx, key.Address, p.ChainID); err != nil {
		return nil, fmt.Errorf("sign with %s: %w", key, err)
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode signed transaction: %w", err)
	}
	return &SignedTx{Raw: raw, Hash: tx.Hash(), ChainID: p.ChainID.Uint64(), From: key.Address, To: to, Nonce: p.Nonce}, nil
}

// SaltFromRelease derives a CREATE2 salt from a release id and contract name, so one release
// deploys a contract at one predictable address and another release at a different one.
func SaltFromRelease(releaseID, contract string) [32]byte {
	return crypto.Keccak256Hash([]byte("shipgate/create2/v1"), []byte(releaseID), []byte{0}, []byte(contract))
}

// Create2Address is the address a CREATE2 factory at deployer creates initCode at with salt.
func Create2Address(deployer common.Address, salt [32]byte, initCode []byte) common.Address {
	return crypto.CreateAddress2(deployer, salt, crypto.Keccak256(initCode))
}
