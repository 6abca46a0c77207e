package chain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Record kinds.
const (
	KindContract       = "contract"       // a plain, non-upgradeable contract
	KindProxy          = "proxy"          // an ERC1967 proxy; Implementation says where it points
	KindImplementation = "implementation" // a logic contract behind a proxy
)

// Record is one deployment, as a later release reads it back.
type Record struct {
	Seq            int             `json:"seq"` // position in the history, from 0
	ChainID        uint64          `json:"chainId"`
	Contract       string          `json:"contract"` // the manifest's name, e.g. "Counter"
	Kind           string          `json:"kind"`
	Release        string          `json:"release"` // workflow id of the release that deployed it
	Address        common.Address  `json:"address"`
	TxHash         common.Hash     `json:"txHash"`
	BlockNumber    uint64          `json:"blockNumber"`
	BlockHash      common.Hash     `json:"blockHash"`
	ArtifactName   string          `json:"artifactName"`
	ArtifactDigest string          `json:"artifactDigest"`
	CodeHash       common.Hash     `json:"codeHash"`
	StorageLayout  *StorageLayout  `json:"storageLayout,omitempty"`
	Implementation *common.Address `json:"implementation,omitempty"` // KindProxy only
	RecordedAt     time.Time       `json:"recordedAt"`
	// Prev is the sha256 of the previous entry's JSON: editing or deleting an old entry by hand
	// breaks the chain, and History refuses the file.
	Prev string `json:"prev"`
}

// RecordStore keeps one JSON file per chain and contract, <Dir>/<chainId>/<contract>.json,
// holding the append-only history of that contract's deployments. Files are written atomically
// under a file lock; they are not meant to be edited by hand.
type RecordStore struct {
	Dir string
}

// ErrNoRecord: nothing was recorded for that chain and contract.
var ErrNoRecord = errors.New("no deployment record")

// ErrRecordMismatch: the chain does not hold what the record says.
var ErrRecordMismatch = errors.New("deployment record does not match the chain")

type recordFile struct {
	ChainID  uint64   `json:"chainId"`
	Contract string   `json:"contract"`
	History  []Record `json:"history"`
}

var contractName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

func (s *RecordStore) path(chainID uint64, contract string) (string, error) {
	if !contractName.MatchString(contract) || contract == "." || contract == ".." {
		return "", fmt.Errorf("record store: contract name %q: want letters, digits, '_', '.', '-'", contract)
	}
	return filepath.Join(s.Dir, strconv.FormatUint(chainID, 10), contract+".json"), nil
}

// Append adds r to its contract's history and returns it with Seq and Prev set. Appending a
// record with the same transaction hash as the latest entry returns that entry: a retried
// activity records once.
func (s *RecordStore) Append(r Record) (Record, error) {
	path, err := s.path(r.ChainID, r.Contract)
	if err != nil {
		return Record{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return Record{}, fmt.Errorf("record store: %w", err)
	}
	unlock, err := LockFile(path + ".lock")
	if err != nil {
		return Record{}, fmt.Errorf("record store %s: lock: %w", path, err)
	}
	defer unlock()
	f, err := readRecordFile(path, r.ChainID, r.Contract)
	if err != nil {
		return Record{}, err
	}
	if n := len(f.History); n > 0 && f.History[n-1].TxHash == r.TxHash && r.TxHash != (common.Hash{}) {
		return f.History[n-1], nil
	}
	r.Seq = len(f.History)
	r.Prev = ""
	if r.Seq > 0 {
		if r.Prev, err = recordDigest(f.History[r.Seq-1]); err != nil {
			return Record{}, err
		}
	}
	f.History = append(f.History, r)
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return Record{}, fmt.Errorf("record store: %w", err)
	}
	if err := writeFileAtomic(path, append(data, '\n')); err != nil {
		return Record{}, fmt.Errorf("record store %s: %w", path, err)
	}
	return r, nil
}

// History returns every record of a contract on a chain, oldest first, after checking the
// file's hash chain.
func (s *RecordStore) History(chainID uint64, contract string) ([]Record, error) {
	path, err := s.path(chainID, contract)
	if err != nil {
		return nil, err
	}
	f, err := readRecordFile(path, chainID, contract)
	if err != nil {
		return nil, err
	}
	return f.History, nil
}

// Latest returns the newest record, or ErrNoRecord.
func (s *RecordStore) Latest(chainID uint64, contract string) (Record, error) {
	h, err := s.History(chainID, contract)
	if err != nil {
		return Record{}, err
	}
	if len(h) == 0 {
		return Record{}, fmt.Errorf("%w for %s on chain %d", ErrNoRecord, contract, chainID)
	}
	return h[len(h)-1], nil
}

// LatestVerified returns the newest record after checking it against the chain: the code at
// its address hashes to the recorded code hash and, for a proxy, the implementation slot holds
// the recorded implementation. A mismatch is an ErrRecordMismatch error.
func (s *RecordStore) LatestVerified(ctx context.Context, b Backend, chainID uint64, contract string) (Record, error) {
	r, err := s.Latest(chainID, contract)
	if err != nil {
		return Record{}, err
	}
	if err := CheckChainID(ctx, b, chainID); err != nil {
		return Record{}, err
	}
	code, err := b.CodeAt(ctx, r.Address, nil)
	if err != nil {
		return Record{}, fmt.Errorf("record %s #%d: get code at %s: %w", contract, r.Seq, r.Address.Hex(), err)
	}
	if got := crypto.Keccak256Hash(code); got != r.CodeHash {
		return Record{}, fmt.Errorf("%w: %s #%d at %s: code hash %s, recorded %s", ErrRecordMismatch, contract, r.Seq, r.Address.Hex(), got.Hex(), r.CodeHash.Hex())
	}
	if r.Kind == KindProxy && r.Implementation != nil {
		if err := VerifyImplementation(ctx, b, r.Address, *r.Implementation); err != nil {
			return Record{}, fmt.Errorf("%w: %s #%d: %v", ErrRecordMismatch, contract, r.Seq, err)
		}
	}
	return r, nil
}

func readRecordFile(path string, chainID uint64, contract string) (*recordFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &recordFile{ChainID: chainID, Contract: contract}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record store: %w", err)
	}
	return parseRecordFile(path, data, chainID, contract)
}

// parseRecordFile checks identity and the hash chain so a hand edit is caught.
func parseRecordFile(path string, data []byte, chainID uint64, contract string) (*recordFile, error) {
	var f recordFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("record store %s: %v", path, err)
	}
	if f.ChainID != chainID || f.Contract != contract {
		return nil, fmt.Errorf("record store %s: file is for %s on chain %d, not %s on chain %d", path, f.Contract, f.ChainID, contract, chainID)
	}
	for i, r := range f.History {
		if r.Seq != i {
			return nil, fmt.Errorf("record store %s: history[%d]: seq %d, want %d (edited by hand?)", path, i, r.Seq, i)
		}
		if r.ChainID != chainID || r.Contract != contract {
			return nil, fmt.Errorf("record store %s: history[%d]: record is for %s on chain %d", path, i, r.Contract, r.ChainID)
		}
		want := ""
		if i > 0 {
			var err error
			if want, err = recordDigest(f.History[i-1]); err != nil {
				return nil, err
			}
		}
		if r.Prev != want {
			return nil, fmt.Errorf("record store %s: history[%d]: prev digest %q does not match history[%d] (edited by hand?)", path, i, r.Prev, i-1)
		}
	}
	return &f, nil
}

func recordDigest(r Record) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("record store: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
