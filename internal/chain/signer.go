package chain

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// Signer signs the transactions of one account: in this process with a private key the worker
// holds (a keystore file, or a development hex key), or in an external signer (Clef) that
// keeps the key and asks its own user or rules to approve each request.
type Signer interface {
	// SignTx returns tx signed for chainID. An external signer may return another transaction
	// than the one asked for (Clef lets its user edit a request before approving it): the
	// caller checks the answer, see checkSigned.
	SignTx(ctx context.Context, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error)
	// String names the signer in errors and logs; it never contains a secret.
	String() string
}

// localSigner signs with a private key held in this process.
type localSigner struct{ priv *ecdsa.PrivateKey }

func (s localSigner) SignTx(_ context.Context, tx *types.Transaction, chainID *big.Int) (*types.Transaction, error) {
	return types.SignTx(tx, types.LatestSignerForChainID(chainID), s.priv)
}

func (localSigner) String() string { return "in-process key" }

// ErrSignerMismatch: the signer returned a transaction other than the one asked for, or one
// signed by another account. Its bytes are never stored nor sent.
var ErrSignerMismatch = errors.New("the signer returned a transaction other than the one asked for")

// checkSigned accepts got only if it is want signed by from: the same type and, field by
// field, the same chain id, nonce, fees, gas, recipient, value, data and (empty) access list,
// so the signature covers exactly the bytes the release decided. A signer outside the process
// (or its user, who may edit a request in Clef before approving it) cannot slip in another
// recipient, more gas or another nonce.
func checkSigned(want, got *types.Transaction, from common.Address, chainID *big.Int) error {
	if got == nil {
		return fmt.Errorf("%w: no transaction", ErrSignerMismatch)
	}
	var diff string
	switch {
	case got.Type() != want.Type():
		diff = fmt.Sprintf("type %d, asked %d", got.Type(), want.Type())
	case got.ChainId().Cmp(chainID) != 0:
		diff = fmt.Sprintf("chain id %s, asked %s", got.ChainId(), chainID)
	case got.Nonce() != want.Nonce():
		diff = fmt.Sprintf("nonce %d, asked %d", got.Nonce(), want.Nonce())
	case got.GasTipCap().Cmp(want.GasTipCap()) != 0:
		diff = fmt.Sprintf("tip cap %s, asked %s", got.GasTipCap(), want.GasTipCap())
	case got.GasFeeCap().Cmp(want.GasFeeCap()) != 0:
		diff = fmt.Sprintf("fee cap %s, asked %s", got.GasFeeCap(), want.GasFeeCap())
	case got.Gas() != want.Gas():
		diff = fmt.Sprintf("gas %d, asked %d", got.Gas(), want.Gas())
	case (got.To() == nil) != (want.To() == nil) || got.To() != nil && *got.To() != *want.To():
		diff = fmt.Sprintf("recipient %s, asked %s", addrOrCreate(got.To()), addrOrCreate(want.To()))
	case got.Value().Cmp(want.Value()) != 0:
		diff = fmt.Sprintf("value %s, asked %s", got.Value(), want.Value())
	case !bytes.Equal(got.Data(), want.Data()):
		diff = fmt.Sprintf("data of %d bytes (keccak256 %x…), asked %d bytes (%x…)", len(got.Data()), crypto.Keccak256(got.Data())[:4], len(want.Data()), crypto.Keccak256(want.Data())[:4])
	case len(got.AccessList()) != len(want.AccessList()) || len(got.BlobHashes()) != 0 || len(got.SetCodeAuthorizations()) != 0:
		diff = "an access list, blobs or authorizations nobody asked for"
	}
	if diff != "" {
		return fmt.Errorf("%w: %s", ErrSignerMismatch, diff)
	}
	// All fields equal, so the hashes the signature is over are equal too; the sender proves
	// the signature is the account's.
	sender, err := types.Sender(types.LatestSignerForChainID(chainID), got)
	if err != nil {
		return fmt.Errorf("%w: bad signature: %v", ErrSignerMismatch, err)
	}
	if sender != from {
		return fmt.Errorf("%w: signed by %s, not %s", ErrSignerMismatch, sender.Hex(), from.Hex())
	}
	return nil
}

func addrOrCreate(a *common.Address) string {
	if a == nil {
		return "none (contract creation)"
	}
	return a.Hex()
}
