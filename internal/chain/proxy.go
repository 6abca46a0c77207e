package chain

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// EIP-1967 storage slots: keccak256("eip1967.proxy.implementation") - 1 and
// keccak256("eip1967.proxy.admin") - 1.
var (
	ImplementationSlot = common.HexToHash("0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc")
	AdminSlot          = common.HexToHash("0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103")
)

// ErrImplementationMismatch: the proxy's implementation slot does not hold the expected address.
var ErrImplementationMismatch = errors.New("proxy implementation mismatch")

// upgradeABI is the UUPS entry point (OpenZeppelin UUPSUpgradeable, ERC-1822 + EIP-1967).
var upgradeABI = mustABI(`[{"type":"function","name":"upgradeToAndCall","stateMutability":"payable","inputs":[{"name":"newImplementation","type":"address"},{"name":"data","type":"bytes"}],"outputs":[]}]`)

func mustABI(s string) abi.ABI {
	a, err := abi.JSON(strings.NewReader(s))
	if err != nil {
		panic(err)
	}
	return a
}

// ReadImplementation reads the EIP-1967 implementation slot of proxy.
func ReadImplementation(ctx context.Context, b Backend, proxy common.Address) (common.Address, error) {
	return readAddressSlot(ctx, b, proxy, ImplementationSlot, "implementation")
}

// ReadAdmin reads the EIP-1967 admin slot of proxy (zero for UUPS proxies).
func ReadAdmin(ctx context.Context, b Backend, proxy common.Address) (common.Address, error) {
	return readAddressSlot(ctx, b, proxy, AdminSlot, "admin")
}

func readAddressSlot(ctx context.Context, b Backend, proxy common.Address, slot common.Hash, what string) (common.Address, error) {
	v, err := b.StorageAt(ctx, proxy, slot, nil)
	if err != nil {
		return common.Address{}, fmt.Errorf("read %s slot of %s: %w", what, proxy.Hex(), err)
	}
	if len(v) != 32 {
		return common.Address{}, fmt.Errorf("read %s slot of %s: %d bytes, want 32", what, proxy.Hex(), len(v))
	}
	for _, x := range v[:12] {
		if x != 0 {
			return common.Address{}, fmt.Errorf("%s slot of %s holds 0x%x: not an address", what, proxy.Hex(), v)
		}
	}
	return common.BytesToAddress(v[12:]), nil
}

// UpgradeToAndCallData is the calldata of upgradeToAndCall(newImplementation, data) for a UUPS
// proxy; data may be empty (no call) or e.g. a reinitializer from Artifact.EncodeCall.
func UpgradeToAndCallData(newImplementation common.Address, data []byte) []byte {
	if data == nil {
		data = []byte{}
	}
	out, err := upgradeABI.Pack("upgradeToAndCall", newImplementation, data)
	if err != nil {
		panic(err) // static types: cannot fail
	}
	return out
}

// VerifyImplementation checks after an upgrade (or rollback) that proxy points at want.
func VerifyImplementation(ctx context.Context, b Backend, proxy, want common.Address) error {
	got, err := ReadImplementation(ctx, b, proxy)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: proxy %s points at %s, want %s", ErrImplementationMismatch, proxy.Hex(), got.Hex(), want.Hex())
	}
	return nil
}

// CheckUpgrade is the pre-upgrade check: the new implementation's storage layout must extend
// the current one's. Both artifacts must carry a storage layout.
func CheckUpgrade(current, next *Artifact) error {
	if current.StorageLayout == nil || next.StorageLayout == nil {
		return fmt.Errorf("upgrade %s -> %s: storage layout missing (%s: %t, %s: %t); compile with storageLayout output",
			current.Name, next.Name, current.File, current.StorageLayout != nil, next.File, next.StorageLayout != nil)
	}
	if err := CheckLayoutCompatible(current.StorageLayout, next.StorageLayout); err != nil {
		return fmt.Errorf("upgrade %s -> %s refused: %w", current.Name, next.Name, err)
	}
	return nil
}

// CheckRollback is the pre-rollback check: going back from current to an earlier target is
// safe when upgrading target to current was, i.e. target's layout is a prefix of current's.
// Variables current appended stay in storage untouched.
func CheckRollback(current, target *Artifact) error {
	if current.StorageLayout == nil || target.StorageLayout == nil {
		return fmt.Errorf("rollback %s -> %s: storage layout missing; compile with storageLayout output", current.Name, target.Name)
	}
	if err := CheckLayoutCompatible(target.StorageLayout, current.StorageLayout); err != nil {
		return fmt.Errorf("rollback %s -> %s refused: %w", current.Name, target.Name, err)
	}
	return nil
}
