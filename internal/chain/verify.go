package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// ErrCodeMismatch: the code at an address is not the artifact's.
var ErrCodeMismatch = errors.New("deployed code does not match the artifact")

// CodeCheck is the result of a successful VerifyCode.
type CodeCheck struct {
	Address  common.Address `json:"address"`
	CodeHash common.Hash    `json:"codeHash"` // keccak256 of the code as deployed (immutables included)
	// MetadataMatch is false when only the CBOR metadata tail differs: same executable code
	// compiled from differently named or commented sources. It is reported, not refused.
	MetadataMatch bool `json:"metadataMatch"`
}

// VerifyCode checks that the code at addr is the artifact's deployed bytecode, with the
// immutable ranges masked (their values are set by the constructor) and the CBOR metadata
// tail compared separately. It returns the on-chain code hash to record.
func VerifyCode(ctx context.Context, b Backend, addr common.Address, a *Artifact) (*CodeCheck, error) {
	code, err := b.CodeAt(ctx, addr, nil)
	if err != nil {
		return nil, fmt.Errorf("get code at %s: %w", addr.Hex(), err)
	}
	if len(code) == 0 {
		return nil, fmt.Errorf("%w: no code at %s (want %s)", ErrCodeMismatch, addr.Hex(), a.Name)
	}
	match, err := CompareCode(code, a)
	if err != nil {
		return nil, fmt.Errorf("code at %s vs %s (%s): %w", addr.Hex(), a.Name, a.File, err)
	}
	return &CodeCheck{Address: addr, CodeHash: crypto.Keccak256Hash(code), MetadataMatch: match}, nil
}

// CompareCode compares on-chain code with the artifact. It returns whether the metadata tails
// also match, or an ErrCodeMismatch error with the first differing byte.
func CompareCode(code []byte, a *Artifact) (metadataMatch bool, err error) {
	metadataMatch, err = compareCode(code, a)
	if err != nil && !a.HasImmutableInfo {
		// Without immutable references a mismatch may only be an immutable's value.
		err = fmt.Errorf("%w (the artifact carries no immutable references: use a format that does)", err)
	}
	return metadataMatch, err
}

func compareCode(code []byte, a *Artifact) (bool, error) {
	want := a.DeployedBytecode
	if len(want) == 0 {
		return false, fmt.Errorf("%w: artifact has no deployed bytecode", ErrCodeMismatch)
	}
	if len(code) != len(want) {
		return false, fmt.Errorf("%w: length %d, artifact %d", ErrCodeMismatch, len(code), len(want))
	}
	got, exp := bytes.Clone(code), bytes.Clone(want)
	for _, r := range a.Immutables {
		clear(got[r.Start : r.Start+r.Length])
		clear(exp[r.Start : r.Start+r.Length])
	}
	gotExec, gotMeta := SplitMetadata(got)
	expExec, expMeta := SplitMetadata(exp)
	if len(gotExec) != len(expExec) {
		return false, fmt.Errorf("%w: executable part is %d bytes, artifact %d", ErrCodeMismatch, len(gotExec), len(expExec))
	}
	for i := range gotExec {
		if gotExec[i] != expExec[i] {
			return false, fmt.Errorf("%w: first difference at byte %d (0x%02x, artifact 0x%02x)", ErrCodeMismatch, i, gotExec[i], expExec[i])
		}
	}
	return bytes.Equal(gotMeta, expMeta), nil
}

// SplitMetadata splits runtime code into executable code and the CBOR metadata tail solc
// appends (a CBOR map followed by its 2-byte big-endian length). Code without a plausible tail
// is returned whole.
func SplitMetadata(code []byte) (exec, meta []byte) {
	if len(code) < 2 {
		return code, nil
	}
	n := int(code[len(code)-2])<<8 | int(code[len(code)-1])
	start := len(code) - 2 - n
	if n == 0 || start < 0 {
		return code, nil
	}
	// A CBOR map header (major type 5) opens solc's metadata.
	if code[start]&0xe0 != 0xa0 {
		return code, nil
	}
	return code[:start], code[start:]
}
