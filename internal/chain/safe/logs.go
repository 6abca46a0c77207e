package safe

import (
	"context"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

type logFilterer interface {
	FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error)
}

// executionFilter finds the Safe's ExecutionSuccess(bytes32 indexed txHash, uint256 payment)
// event for the proposal's hash: the proof its nonce went to this proposal.
func executionFilter(p *Proposal) ethereum.FilterQuery {
	ev := safeABI().Events["ExecutionSuccess"]
	return ethereum.FilterQuery{Addresses: []common.Address{p.SafeTx.Safe}, Topics: [][]common.Hash{{ev.ID}, {p.SafeTxHash}}}
}

// CancelledFilter finds the timelock's Cancelled(bytes32 indexed id) event for operation id.
func CancelledFilter(timelock common.Address, id common.Hash) ethereum.FilterQuery {
	ev := timelockABI().Events["Cancelled"]
	return ethereum.FilterQuery{Addresses: []common.Address{timelock}, Topics: [][]common.Hash{{ev.ID}, {id}}}
}
