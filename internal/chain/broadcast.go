package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Errors a workflow can branch on (errors.Is).
var (
	// ErrUnderpriced: the node refused the fees (below its minimum tip, below the base fee, or
	// too low to replace a pending transaction with the same nonce). Sign again with higher
	// caps under a new operation key; the old bytes can never be mined at a lower price.
	ErrUnderpriced = errors.New("transaction underpriced")
	// ErrNonceConsumed: another transaction from the same key was mined with this nonce. These
	// bytes can never be mined; something signed outside shipgate's nonce store.
	ErrNonceConsumed = errors.New("nonce already used by a different transaction")
	// ErrReverted: the transaction was mined and reverted.
	ErrReverted = errors.New("transaction reverted")
)

// TxError adds the transaction hash and the node's words to one of the errors above.
type TxError struct {
	Hash   common.Hash
	Kind   error
	Detail string
}

func (e *TxError) Error() string { return fmt.Sprintf("tx %s: %v: %s", e.Hash.Hex(), e.Kind, e.Detail) }
func (e *TxError) Unwrap() error { return e.Kind }

// Broadcast sends the exact signed bytes. Sending them again is harmless: "already known",
// and "nonce too low" when this very transaction is already mined, count as success.
func Broadcast(ctx context.Context, b Backend, raw []byte) (common.Hash, error) {
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(raw); err != nil {
		return common.Hash{}, fmt.Errorf("broadcast: not a signed transaction: %w", err)
	}
	err := b.SendTransaction(ctx, tx)
	if err == nil {
		return tx.Hash(), nil
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "already known") || strings.Contains(msg, "known transaction") || strings.Contains(msg, "already imported"):
		return tx.Hash(), nil
	case strings.Contains(msg, "nonce too low") || strings.Contains(msg, "nonce has already been used"):
		_, rerr := b.TransactionReceipt(ctx, tx.Hash())
		if rerr == nil {
			return tx.Hash(), nil // ours, already mined
		}
		if !errors.Is(rerr, ethereum.NotFound) {
			// The node cannot tell yet (e.g. still indexing): retryable, not a verdict.
			return tx.Hash(), fmt.Errorf("broadcast tx %s: %v, and its receipt cannot be read yet: %w", tx.Hash().Hex(), err, rerr)
		}
		return tx.Hash(), &TxError{Hash: tx.Hash(), Kind: ErrNonceConsumed, Detail: fmt.Sprintf("nonce %d: %v", tx.Nonce(), err)}
	case strings.Contains(msg, "underpriced") || strings.Contains(msg, "less than block base fee") ||
		strings.Contains(msg, "fee cap too low") || strings.Contains(msg, "tip too low") || strings.Contains(msg, "gas price too low") ||
		strings.Contains(msg, "price below minimum"):
		return tx.Hash(), &TxError{Hash: tx.Hash(), Kind: ErrUnderpriced, Detail: fmt.Sprintf("tip cap %s wei, fee cap %s wei: %v", tx.GasTipCap(), tx.GasFeeCap(), err)}
	}
	return tx.Hash(), fmt.Errorf("broadcast tx %s: %w", tx.Hash().Hex(), err)
}

// WaitOptions tune WaitConfirmed.
type WaitOptions struct {
	Confirmations uint64        // blocks including the one with the receipt; 0 means 1
	PollInterval  time.Duration // 0 means 2 s
	// OnProgress is called after every poll: activities heartbeat from it.
	OnProgress func(WaitProgress)
	// ErrorABI decodes custom errors of a revert (e.g. the target contract's ABI).
	ErrorABI *abi.ABI
}

// WaitProgress is what one poll saw.
type WaitProgress struct {
	Hash          common.Hash
	State         string // "pending", "rebroadcast", "mined", "reorged"
	BlockNumber   uint64
	Confirmations uint64
	Rebroadcasts  int
	// Note explains a wait that may not end by itself, e.g. a fee cap below the base fee.
	Note string
}

// Confirmed is a transaction with enough confirmations.
type Confirmed struct {
	Hash            common.Hash     `json:"hash"`
	BlockNumber     uint64          `json:"blockNumber"`
	BlockHash       common.Hash     `json:"blockHash"`
	GasUsed         uint64          `json:"gasUsed"`
	ContractAddress *common.Address `json:"contractAddress,omitempty"`
	Confirmations   uint64          `json:"confirmations"`
	Rebroadcasts    int             `json:"rebroadcasts"`
}

// WaitConfirmed waits until the transaction in raw has opt.Confirmations blocks on the
// canonical chain. When the node no longer knows it (a reorg or pool eviction dropped it) it
// broadcasts the same bytes again. A mined revert is an ErrReverted TxError with the reason.
func WaitConfirmed(ctx context.Context, b Backend, raw []byte, opt WaitOptions) (*Confirmed, error) {
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("wait: not a signed transaction: %w", err)
	}
	want := max(opt.Confirmations, 1)
	interval := opt.PollInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	hash := tx.Hash()
	p := WaitProgress{Hash: hash}
	for {
		done, res, err := pollOnce(ctx, b, tx, raw, want, &p, opt.ErrorABI)
		if opt.OnProgress != nil {
			opt.OnProgress(p)
		}
		if err != nil && ctx.Err() != nil {
			// A call cut short by the deadline or a cancellation: say that, not the transport error.
			return nil, fmt.Errorf("wait for tx %s (%s, %d/%d confirmations): %w", hash.Hex(), p.State, p.Confirmations, want, ctx.Err())
		}
		if err != nil || done {
			return res, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for tx %s (%s, %d/%d confirmations): %w", hash.Hex(), p.State, p.Confirmations, want, ctx.Err())
		case <-time.After(interval):
		}
	}
}

func pollOnce(ctx context.Context, b Backend, tx *types.Transaction, raw []byte, want uint64, p *WaitProgress, errABI *abi.ABI) (bool, *Confirmed, error) {
	hash := tx.Hash()
	rcpt, err := b.TransactionReceipt(ctx, hash)
	if IsIndexing(err) {
		p.State = "indexing"
		return false, nil, nil
	}
	if errors.Is(err, ethereum.NotFound) {
		p.BlockNumber, p.Confirmations = 0, 0
		if _, _, terr := b.TransactionByHash(ctx, hash); terr == nil {
			p.State, p.Note = "pending", feeNote(ctx, b, tx)
			return false, nil, nil
		} else if IsIndexing(terr) {
			p.State = "indexing"
			return false, nil, nil
		} else if !errors.Is(terr, ethereum.NotFound) {
			return false, nil, fmt.Errorf("look up tx %s: %w", hash.Hex(), terr)
		}
		// Neither mined nor pending: dropped. The same bytes are the only safe thing to send.
		if _, berr := Broadcast(ctx, b, raw); berr != nil {
			return false, nil, berr
		}
		p.State = "rebroadcast"
		p.Rebroadcasts++
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("receipt of tx %s: %w", hash.Hex(), err)
	}
	p.Note = ""
	// A receipt in a block that is no longer canonical will disappear; keep polling.
	hdr, err := b.HeaderByNumber(ctx, rcpt.BlockNumber)
	if err != nil {
		return false, nil, fmt.Errorf("header %s: %w", rcpt.BlockNumber, err)
	}
	if hdr.Hash() != rcpt.BlockHash {
		p.State, p.Confirmations = "reorged", 0
		return false, nil, nil
	}
	head, err := b.BlockNumber(ctx)
	if err != nil {
		return false, nil, fmt.Errorf("block number: %w", err)
	}
	bn := rcpt.BlockNumber.Uint64()
	p.State, p.BlockNumber = "mined", bn
	if head >= bn {
		p.Confirmations = head - bn + 1
	}
	if p.Confirmations < want {
		return false, nil, nil
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		return true, nil, &TxError{Hash: hash, Kind: ErrReverted, Detail: fmt.Sprintf("in block %d, gas used %d of %d: %s", bn, rcpt.GasUsed, tx.Gas(), revertReason(ctx, b, tx, rcpt, errABI))}
	}
	res := &Confirmed{Hash: hash, BlockNumber: bn, BlockHash: rcpt.BlockHash, GasUsed: rcpt.GasUsed, Confirmations: p.Confirmations, Rebroadcasts: p.Rebroadcasts}
	if tx.To() == nil {
		addr := rcpt.ContractAddress
		res.ContractAddress = &addr
	}
	return true, res, nil
}

// revertReason replays the transaction on the state before its block to recover the reason
// (receipts do not carry it). Best effort: the block's earlier transactions are not replayed.
func revertReason(ctx context.Context, b Backend, tx *types.Transaction, rcpt *types.Receipt, errABI *abi.ABI) string {
	if rcpt.GasUsed >= tx.Gas() {
		return "out of gas (raise the gas limit)"
	}
	from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
	if err != nil {
		return "reason unknown"
	}
	parent := new(big.Int).Sub(rcpt.BlockNumber, big.NewInt(1))
	_, err = b.CallContract(ctx, ethereum.CallMsg{From: from, To: tx.To(), Gas: tx.Gas(), Value: tx.Value(), Data: tx.Data()}, parent)
	if err == nil {
		return "reason unknown (the replay succeeded)"
	}
	return withRevertReason(err, errABI).Error()
}

// IsIndexing reports the node's "transaction indexing is in progress": it cannot answer yet
// whether a transaction is known, so the only safe move is to ask again later.
func IsIndexing(err error) bool {
	return err != nil && strings.Contains(err.Error(), "indexing is in progress")
}

// feeNote says when a pending transaction cannot be included at the current base fee: it
// waits for the base fee to fall, or for a replacement signed with higher caps.
func feeNote(ctx context.Context, b Backend, tx *types.Transaction) string {
	head, err := b.HeaderByNumber(ctx, nil)
	if err != nil || head.BaseFee == nil || tx.GasFeeCap().Cmp(head.BaseFee) >= 0 {
		return ""
	}
	return fmt.Sprintf("fee cap %s wei is below the base fee %s wei: underpriced until the base fee falls", tx.GasFeeCap(), head.BaseFee)
}
