package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
)

// Backend is the part of a JSON-RPC client this package uses. *ethclient.Client and
// go-ethereum's simulated.Client both satisfy it.
type Backend interface {
	ethereum.ChainIDReader
	ethereum.BlockNumberReader
	ethereum.ChainStateReader
	ethereum.TransactionReader
	ethereum.TransactionSender
	ethereum.ContractCaller
	ethereum.GasEstimator
	ethereum.GasPricer1559
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
}

// ChainIDError is returned when a node serves another chain than the policy names.
type ChainIDError struct {
	Expected, Got uint64
}

func (e *ChainIDError) Error() string {
	return fmt.Sprintf("chain id mismatch: expected %d, node serves %d", e.Expected, e.Got)
}

// Dial connects to rawURL and refuses the connection if the node's chain id is not expected.
func Dial(ctx context.Context, rawURL string, expected uint64) (*ethclient.Client, error) {
	c, err := ethclient.DialContext(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", redactURL(rawURL), err)
	}
	if err := CheckChainID(ctx, c, expected); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", redactURL(rawURL), err)
	}
	return c, nil
}

// CheckChainID is the connect-time check: a mismatch is a *ChainIDError.
func CheckChainID(ctx context.Context, b Backend, expected uint64) error {
	id, err := b.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("read chain id: %w", err)
	}
	if !id.IsUint64() || id.Uint64() != expected {
		got := uint64(0)
		if id.IsUint64() {
			got = id.Uint64()
		}
		return &ChainIDError{Expected: expected, Got: got}
	}
	return nil
}

// redactURL drops anything after the host: RPC URLs often carry an API key in the path.
func redactURL(u string) string {
	for i := 0; i+2 < len(u); i++ {
		if u[i:i+3] == "://" {
			rest := u[i+3:]
			for j := 0; j < len(rest); j++ {
				if rest[j] == '/' || rest[j] == '?' {
					return u[:i+3+j] + "/…"
				}
			}
			return u
		}
	}
	return u
}

// SuggestFees proposes EIP-1559 caps: the node's suggested tip, and a fee cap of twice the
// latest base fee plus the tip, which survives six full blocks of base-fee increases.
func SuggestFees(ctx context.Context, b Backend) (tip, feeCap *big.Int, err error) {
	tip, err = b.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("suggest gas tip: %w", err)
	}
	head, err := b.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("read latest header: %w", err)
	}
	if head.BaseFee == nil {
		return nil, nil, errors.New("latest block has no base fee: chain is not EIP-1559")
	}
	feeCap = new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	return tip, feeCap, nil
}

// EstimateGas estimates a call or (to == nil) a creation and adds 20 % headroom. A revert is
// reported with its decoded reason; errABI (may be nil) decodes custom errors.
func EstimateGas(ctx context.Context, b Backend, from common.Address, to *common.Address, data []byte, value *big.Int, errABI *abi.ABI) (uint64, error) {
	gas, err := b.EstimateGas(ctx, ethereum.CallMsg{From: from, To: to, Data: data, Value: value})
	if err != nil {
		return 0, fmt.Errorf("estimate gas: %w", withRevertReason(err, errABI))
	}
	return gas + gas/5, nil
}

// withRevertReason decodes the revert data an RPC error carries, if any.
func withRevertReason(err error, errABI *abi.ABI) error {
	data, ok := RevertData(err)
	if !ok {
		return err
	}
	if reason := DecodeRevert(data, errABI); reason != "" {
		return fmt.Errorf("%w: %s", err, reason)
	}
	return err
}

// RevertData is the revert data an eth_call or eth_estimateGas error carries (the node's
// JSON-RPC error data); ok is false for an error that is not a revert (a transport failure).
func RevertData(err error) (data []byte, ok bool) {
	var de rpc.DataError
	if !errors.As(err, &de) {
		return nil, false
	}
	hexData, ok := de.ErrorData().(string)
	if !ok {
		return nil, false
	}
	return common.FromHex(hexData), true
}

// DecodeRevert renders revert data: Error(string), Panic(uint256), a custom error found in
// errABI, or the raw selector.
func DecodeRevert(data []byte, errABI *abi.ABI) string {
	if len(data) < 4 {
		return ""
	}
	if reason, err := abi.UnpackRevert(data); err == nil {
		return reason
	}
	if errABI != nil {
		var id [4]byte
		copy(id[:], data[:4])
		if e, err := errABI.ErrorByID(id); err == nil {
			if args, err := e.Inputs.Unpack(data[4:]); err == nil && len(args) > 0 {
				return fmt.Sprintf("%s%v", e.Name, args)
			}
			return e.Name + "()"
		}
	}
	return fmt.Sprintf("custom error 0x%x", data[:4])
}
