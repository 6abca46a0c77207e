package safe

import (
	"context"
	"fmt"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/chain"
)

// Owner management and modules, as a Safe's owners change their Safe: calldata for their own
// tools and for tests that change a real Safe under a proposal. A module (enabled by a Safe
// transaction) changes owners or the threshold through execTransactionFromModule without
// using a nonce: owners' approvals of a pending proposal can stop adding up while its nonce
// stays free.

// sentinelOwners heads the Safe's linked list of owners (prevOwner of the first owner).
var sentinelOwners = common.HexToAddress("0x1")

// EnableModuleData is the calldata of Safe.enableModule(module), a Safe transaction to the
// Safe itself.
func EnableModuleData(module common.Address) ([]byte, error) {
	return safeABI().Pack("enableModule", module)
}

// ChangeThresholdData is the calldata of Safe.changeThreshold(threshold).
func ChangeThresholdData(threshold uint64) ([]byte, error) {
	return safeABI().Pack("changeThreshold", new(big.Int).SetUint64(threshold))
}

// RemoveOwnerData is the calldata of Safe.removeOwner(prevOwner, owner, threshold), with
// prevOwner read from the Safe's owner list.
func RemoveOwnerData(ctx context.Context, b chain.Backend, safe, owner common.Address, threshold uint64) ([]byte, error) {
	owners, err := Owners(ctx, b, safe)
	if err != nil {
		return nil, err
	}
	i := slices.Index(owners, owner)
	if i < 0 {
		return nil, fmt.Errorf("remove owner: %s is not an owner of Safe %s", owner.Hex(), safe.Hex())
	}
	prev := sentinelOwners
	if i > 0 {
		prev = owners[i-1]
	}
	return safeABI().Pack("removeOwner", prev, owner, new(big.Int).SetUint64(threshold))
}

// ModuleCallData is the calldata an enabled module sends to the Safe to make it call the Safe
// itself with data (execTransactionFromModule, operation call, value 0).
func ModuleCallData(safe common.Address, data []byte) ([]byte, error) {
	return safeABI().Pack("execTransactionFromModule", safe, new(big.Int), data, uint8(OperationCall))
}

// SelfTx is a Safe transaction from the Safe to itself with data at nonce: owner management
// (EnableModuleData and the like), or, with no data, a rejection: the zero-value call the
// Safe's owners execute at a nonce to use it up, so that no other transaction at that nonce
// can ever execute.
func SelfTx(safe common.Address, chainID uint64, data []byte, nonce uint64) (SafeTx, common.Hash, error) {
	tx := SafeTx{Safe: safe, ChainID: chainID, To: safe, Value: zero(), Data: data, Operation: OperationCall,
		SafeTxGas: zero(), BaseGas: zero(), GasPrice: zero(), Nonce: nonce}
	h, err := tx.Hash()
	return tx, h, err
}
