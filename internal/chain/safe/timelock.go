package safe

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// TimelockOp is one TimelockController operation (schedule / execute / cancel share it).
type TimelockOp struct {
	Target      common.Address `json:"target"`
	Value       *hexutil.Big   `json:"value"`
	Data        hexutil.Bytes  `json:"data"`
	Predecessor common.Hash    `json:"predecessor"` // zero: none
	Salt        common.Hash    `json:"salt"`
	// ID is hashOperation(target, value, data, predecessor, salt), the timelock's own key.
	ID common.Hash `json:"id"`
}

// OperationState mirrors TimelockController.OperationState (OpenZeppelin 5.x).
type OperationState uint8

// Timelock operation states.
const (
	OpUnset   OperationState = 0 // never scheduled, or cancelled
	OpWaiting OperationState = 1 // scheduled, delay not over
	OpReady   OperationState = 2 // delay over, not executed
	OpDone    OperationState = 3 // executed
)

func (s OperationState) String() string {
	switch s {
	case OpUnset:
		return "unset"
	case OpWaiting:
		return "waiting"
	case OpReady:
		return "ready"
	case OpDone:
		return "done"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

var hashOpArgs = abi.Arguments{
	{Type: mustType("address")}, {Type: mustType("uint256")}, {Type: mustType("bytes")},
	{Type: mustType("bytes32")}, {Type: mustType("bytes32")},
}

func mustType(s string) abi.Type {
	t, err := abi.NewType(s, "", nil)
	if err != nil {
		panic(err)
	}
	return t
}

// NewTimelockOp fills in the operation id: keccak256(abi.encode(target, value, data,
// predecessor, salt)), the same as the contract's hashOperation (tested against it).
func NewTimelockOp(target common.Address, value *big.Int, data []byte, predecessor, salt common.Hash) (TimelockOp, error) {
	if value == nil {
		value = new(big.Int)
	}
	enc, err := hashOpArgs.Pack(target, value, data, [32]byte(predecessor), [32]byte(salt))
	if err != nil {
		return TimelockOp{}, fmt.Errorf("timelock operation on %s: %w", target.Hex(), err)
	}
	return TimelockOp{Target: target, Value: (*hexutil.Big)(value), Data: data, Predecessor: predecessor, Salt: salt, ID: crypto.Keccak256Hash(enc)}, nil
}

// SaltFromRelease derives a timelock salt from the release id and the step ("upgrade/Counter",
// "revert/Counter"): one release schedules each operation once, and a second release of the
// same change gets other ids instead of colliding with a done operation.
func SaltFromRelease(releaseID, step string) common.Hash {
	return crypto.Keccak256Hash([]byte("shipgate/timelock/v1"), []byte(releaseID), []byte{0}, []byte(step))
}

// ScheduleData is the calldata of schedule(op, delay).
func (op TimelockOp) ScheduleData(delay uint64) ([]byte, error) {
	return timelockABI().Pack("schedule", op.Target, bigOrZero(op.Value), []byte(op.Data), [32]byte(op.Predecessor), [32]byte(op.Salt), new(big.Int).SetUint64(delay))
}

// ExecuteData is the calldata of execute(op).
func (op TimelockOp) ExecuteData() ([]byte, error) {
	return timelockABI().Pack("execute", op.Target, bigOrZero(op.Value), []byte(op.Data), [32]byte(op.Predecessor), [32]byte(op.Salt))
}

// CancelData is the calldata of cancel(id): what the Safe proposes to abort a release.
func (op TimelockOp) CancelData() ([]byte, error) {
	return timelockABI().Pack("cancel", [32]byte(op.ID))
}

func timelockABI() *abi.ABI { return &mustArtifact(NameTimelock).ABI }
func safeABI() *abi.ABI     { return &mustArtifact(NameSafe).ABI }
