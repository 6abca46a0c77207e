package chain

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// TxRequest is one transaction a sign activity prepares.
type TxRequest struct {
	// OpKey makes signing idempotent: the same key always yields the same signed bytes.
	// Derive it from the workflow id and step, e.g. "release/svc/1.2.0/upgrade/Counter".
	OpKey     string
	To        *common.Address // nil for a contract creation
	Data      []byte
	Value     *big.Int
	Gas       uint64   // 0: estimate and add 20 %
	GasTipCap *big.Int // nil: SuggestFees
	GasFeeCap *big.Int // nil: SuggestFees
	ErrorABI  *abi.ABI // decodes custom errors if estimation reverts
}

// SignTx fills in chain id, fees and gas, then signs under the nonce store: the sign activity.
func SignTx(ctx context.Context, b Backend, key *Key, nonces *NonceStore, req TxRequest) (*SignedTx, error) {
	chainID, err := b.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("sign %s: chain id: %w", req.OpKey, err)
	}
	return nonces.SignOnce(ctx, b, key, chainID, req.OpKey, func(nonce uint64) (*SignedTx, error) {
		p := TxParams{ChainID: chainID, Nonce: nonce, GasTipCap: req.GasTipCap, GasFeeCap: req.GasFeeCap, Gas: req.Gas, Value: req.Value}
		if p.GasTipCap == nil || p.GasFeeCap == nil {
			tip, feeCap, err := SuggestFees(ctx, b)
			if err != nil {
				return nil, fmt.Errorf("sign %s: %w", req.OpKey, err)
			}
			if p.GasTipCap == nil {
				p.GasTipCap = tip
			}
			if p.GasFeeCap == nil {
				p.GasFeeCap = feeCap
			}
		}
		if p.Gas == 0 {
			if p.Gas, err = EstimateGas(ctx, b, key.Address, req.To, req.Data, req.Value, req.ErrorABI); err != nil {
				return nil, fmt.Errorf("sign %s: %w", req.OpKey, err)
			}
		}
		if req.To == nil {
			return SignDeploy(ctx, key, p, req.Data)
		}
		return SignCall(ctx, key, p, *req.To, req.Data)
	})
}
