package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// NonceStore allocates nonces so that releases sharing a deployer key never collide and a
// nonce never goes to two different transactions.
//
// Scheme. One JSON file per (chain, address) in Dir, changed only under an exclusive file
// lock (flock) on a sibling .lock file, so worker processes on one host, and goroutines in
// one process, serialise. Under the lock SignOnce:
//  1. returns the stored transaction if this operation key already has one: a retried sign
//     activity gets the same bytes, never a second transaction;
//  2. otherwise takes nonce = max(pending nonce from the chain, next locally reserved), so
//     transactions sent by other tools are respected and ones signed here but not yet seen by
//     the node are not reused;
//  3. signs, stores {op key → nonce, hash, raw bytes}, sets next = nonce+1, and writes the file
//     atomically (temp file + rename) before releasing the lock.
//
// Workers on different hosts that share a key must share Dir on a file system with working
// flock (or use one key per host). A signed transaction must be broadcast (the workflow always
// does); if one is abandoned, later nonces wait behind it: Reserved lists what is stored so an
// operator can broadcast it.
type NonceStore struct {
	Dir string
}

// Reservation is one signed transaction of the store.
type Reservation struct {
	Nonce           uint64          `json:"nonce"`
	Hash            common.Hash     `json:"hash"`
	Raw             hexutil.Bytes   `json:"raw"`
	To              *common.Address `json:"to,omitempty"`
	ContractAddress *common.Address `json:"contractAddress,omitempty"`
}

type nonceFile struct {
	ChainID uint64                 `json:"chainId"`
	Address common.Address         `json:"address"`
	Next    uint64                 `json:"next"`
	Ops     map[string]Reservation `json:"ops"`
}

func (s *NonceStore) path(chainID uint64, addr common.Address) string {
	return filepath.Join(s.Dir, fmt.Sprintf("nonces-%d-%s.json", chainID, strings.ToLower(addr.Hex())))
}

// SignOnce returns the transaction stored for opKey, or allocates a nonce and stores the one
// sign produces for it. opKey identifies the operation, e.g. "release/svc/1.2.0/deploy/Counter";
// sign must use the nonce it is given.
func (s *NonceStore) SignOnce(ctx context.Context, b Backend, key *Key, chainID *big.Int, opKey string, sign func(nonce uint64) (*SignedTx, error)) (*SignedTx, error) {
	if opKey == "" {
		return nil, errors.New("nonce store: empty operation key")
	}
	if chainID == nil || !chainID.IsUint64() {
		return nil, fmt.Errorf("nonce store: bad chain id %v", chainID)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("nonce store: %w", err)
	}
	path := s.path(chainID.Uint64(), key.Address)
	unlock, err := LockFile(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("nonce store %s: lock: %w", path, err)
	}
	defer unlock()

	st, err := readNonceFile(path)
	if err != nil {
		return nil, err
	}
	if st.Ops == nil {
		st = &nonceFile{ChainID: chainID.Uint64(), Address: key.Address, Ops: map[string]Reservation{}}
	}
	if r, ok := st.Ops[opKey]; ok {
		return &SignedTx{Raw: r.Raw, Hash: r.Hash, ChainID: st.ChainID, From: key.Address, To: r.To, Nonce: r.Nonce, ContractAddress: r.ContractAddress}, nil
	}
	pending, err := b.PendingNonceAt(ctx, key.Address)
	if err != nil {
		return nil, fmt.Errorf("nonce store: pending nonce of %s: %w", key.Address.Hex(), err)
	}
	nonce := max(pending, st.Next)
	signed, err := sign(nonce)
	if err != nil {
		return nil, err
	}
	if signed.Nonce != nonce || signed.From != key.Address {
		return nil, fmt.Errorf("nonce store: signer used nonce %d from %s, allocated %d for %s", signed.Nonce, signed.From.Hex(), nonce, key.Address.Hex())
	}
	st.Ops[opKey] = Reservation{Nonce: nonce, Hash: signed.Hash, Raw: signed.Raw, To: signed.To, ContractAddress: signed.ContractAddress}
	st.Next = nonce + 1
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("nonce store: %w", err)
	}
	if err := writeFileAtomic(path, append(data, '\n')); err != nil {
		return nil, fmt.Errorf("nonce store %s: %w", path, err)
	}
	return signed, nil
}

// Resend broadcasts again every stored transaction of addr whose nonce the chain has not used
// yet, lowest nonce first: the recovery when a signed transaction was abandoned and later
// ones wait behind it. Re-sending stored bytes is always safe. It returns the hashes sent.
func (s *NonceStore) Resend(ctx context.Context, b Backend, chainID uint64, addr common.Address) ([]common.Hash, error) {
	ops, err := s.Reserved(chainID, addr)
	if err != nil {
		return nil, err
	}
	mined, err := b.NonceAt(ctx, addr, nil)
	if err != nil {
		return nil, fmt.Errorf("nonce store: nonce of %s: %w", addr.Hex(), err)
	}
	var todo []Reservation
	for _, r := range ops {
		if r.Nonce >= mined {
			todo = append(todo, r)
		}
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].Nonce < todo[j].Nonce })
	sent := make([]common.Hash, 0, len(todo))
	for _, r := range todo {
		if _, err := Broadcast(ctx, b, r.Raw); err != nil {
			return sent, fmt.Errorf("nonce store: resend nonce %d: %w", r.Nonce, err)
		}
		sent = append(sent, r.Hash)
	}
	return sent, nil
}

// Reserved lists the stored transactions of an address by operation key.
func (s *NonceStore) Reserved(chainID uint64, addr common.Address) (map[string]Reservation, error) {
	st, err := readNonceFile(s.path(chainID, addr))
	if err != nil {
		return nil, err
	}
	return st.Ops, nil
}

func readNonceFile(path string) (*nonceFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &nonceFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nonce store: %w", err)
	}
	var st nonceFile
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("nonce store %s: %v", path, err)
	}
	return &st, nil
}

// writeFileAtomic writes via a temp file in the same directory, fsync and rename, so a reader
// (or a crash) sees the old or the new file, never half of one.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // make the rename durable
		d.Close()
	}
	return nil
}
