package safe

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/chain"
)

// State is what the chain says about a governed chain's Safe and timelock.
type State struct {
	SafeVersion string           `json:"safeVersion"`
	Owners      []common.Address `json:"owners"`
	Threshold   uint64           `json:"threshold"`
	Nonce       uint64           `json:"nonce"`
	MinDelay    uint64           `json:"minDelay"` // seconds
	// Roles on the timelock.
	SafeProposer   bool `json:"safeProposer"`
	SafeCanceller  bool `json:"safeCanceller"`
	WorkerExecutor bool `json:"workerExecutor"` // the worker (or anyone: open role) may execute
	WorkerProposer bool `json:"workerProposer"` // must be false: the worker would bypass the Safe
	WorkerAdmin    bool `json:"workerAdmin"`    // must be false: the worker could grant itself roles
}

// Expect is what the policy says the governance is; Check compares it with State.
type Expect struct {
	Owners    []common.Address
	Threshold uint64
	MinDelay  uint64 // seconds
	Worker    common.Address
}

func callView(ctx context.Context, b chain.Backend, to common.Address, a *abi.ABI, method string, args ...any) ([]any, error) {
	data, err := a.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", method, to.Hex(), err)
	}
	out, err := b.CallContract(ctx, ethereum.CallMsg{To: &to, Data: data}, nil)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", method, to.Hex(), err)
	}
	vals, err := a.Unpack(method, out)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w (is the address a %s?)", method, to.Hex(), err, map[*abi.ABI]string{safeABI(): "Safe", timelockABI(): "TimelockController"}[a])
	}
	return vals, nil
}

func hasRole(ctx context.Context, b chain.Backend, timelock common.Address, role string, who common.Address) (bool, error) {
	r, err := callView(ctx, b, timelock, timelockABI(), role)
	if err != nil {
		return false, err
	}
	v, err := callView(ctx, b, timelock, timelockABI(), "hasRole", r[0].([32]byte), who)
	if err != nil {
		return false, err
	}
	return v[0].(bool), nil
}

// ReadState reads the Safe's version, owners, threshold and nonce and the timelock's delay and
// the roles that matter (the Safe's, the worker's, and the open executor role).
func ReadState(ctx context.Context, b chain.Backend, g Governance, worker common.Address) (*State, error) {
	for _, a := range []common.Address{g.Safe, g.Timelock, g.MultiSend} {
		code, err := b.CodeAt(ctx, a, nil)
		if err != nil {
			return nil, fmt.Errorf("governance: code at %s: %w", a.Hex(), err)
		}
		if len(code) == 0 {
			return nil, fmt.Errorf("governance: no contract at %s", a.Hex())
		}
	}
	s := &State{}
	v, err := callView(ctx, b, g.Safe, safeABI(), "VERSION")
	if err != nil {
		return nil, err
	}
	s.SafeVersion = v[0].(string)
	if v, err = callView(ctx, b, g.Safe, safeABI(), "getOwners"); err != nil {
		return nil, err
	}
	s.Owners = v[0].([]common.Address)
	for _, m := range []struct {
		name string
		dst  *uint64
		a    *abi.ABI
		to   common.Address
	}{{"getThreshold", &s.Threshold, safeABI(), g.Safe}, {"nonce", &s.Nonce, safeABI(), g.Safe}, {"getMinDelay", &s.MinDelay, timelockABI(), g.Timelock}} {
		v, err := callView(ctx, b, m.to, m.a, m.name)
		if err != nil {
			return nil, err
		}
		n := v[0].(*big.Int)
		if !n.IsUint64() {
			return nil, fmt.Errorf("%s on %s: %s does not fit 64 bits", m.name, m.to.Hex(), n)
		}
		*m.dst = n.Uint64()
	}
	for _, r := range []struct {
		role string
		who  common.Address
		dst  *bool
	}{
		{"PROPOSER_ROLE", g.Safe, &s.SafeProposer}, {"CANCELLER_ROLE", g.Safe, &s.SafeCanceller},
		{"EXECUTOR_ROLE", worker, &s.WorkerExecutor}, {"PROPOSER_ROLE", worker, &s.WorkerProposer},
		{"DEFAULT_ADMIN_ROLE", worker, &s.WorkerAdmin},
	} {
		if *r.dst, err = hasRole(ctx, b, g.Timelock, r.role, r.who); err != nil {
			return nil, err
		}
	}
	if !s.WorkerExecutor { // the open role: EXECUTOR_ROLE held by address(0)
		if s.WorkerExecutor, err = hasRole(ctx, b, g.Timelock, "EXECUTOR_ROLE", common.Address{}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// MismatchError lists every way the chain disagrees with the policy.
type MismatchError struct {
	Safe, Timelock common.Address
	Problems       []string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("governance (Safe %s, timelock %s) disagrees with the chain: %s", e.Safe.Hex(), e.Timelock.Hex(), strings.Join(e.Problems, "; "))
}

// ErrMismatch is wrapped by every MismatchError.
var ErrMismatch = errors.New("governance mismatch")

func (e *MismatchError) Unwrap() error { return ErrMismatch }

// Check compares the chain's state with what the policy expects; a release is refused before
// any transaction when it returns an error.
func Check(g Governance, s *State, want Expect) error {
	var p []string
	if !versionAtLeast13(s.SafeVersion) {
		p = append(p, fmt.Sprintf("Safe version %q: want 1.3.0 or later (the EIP-712 SafeTx with chainId)", s.SafeVersion))
	}
	have := sortedAddrs(s.Owners)
	wantOwners := sortedAddrs(want.Owners)
	if !slices.Equal(have, wantOwners) {
		p = append(p, fmt.Sprintf("owners on chain %s, policy names %s", addrList(have), addrList(wantOwners)))
	}
	if s.Threshold != want.Threshold {
		p = append(p, fmt.Sprintf("threshold on chain %d, policy says %d", s.Threshold, want.Threshold))
	}
	if s.MinDelay != want.MinDelay {
		p = append(p, fmt.Sprintf("timelock minDelay on chain %ds, policy says %ds", s.MinDelay, want.MinDelay))
	}
	if !s.SafeProposer {
		p = append(p, "the Safe does not hold the timelock's PROPOSER_ROLE")
	}
	if !s.SafeCanceller {
		p = append(p, "the Safe does not hold the timelock's CANCELLER_ROLE (an aborted release could not cancel its operations)")
	}
	if !s.WorkerExecutor {
		p = append(p, fmt.Sprintf("the worker %s may not execute ready operations (EXECUTOR_ROLE, or the open role)", want.Worker.Hex()))
	}
	if s.WorkerProposer {
		p = append(p, fmt.Sprintf("the worker %s holds PROPOSER_ROLE: it could schedule without the Safe", want.Worker.Hex()))
	}
	if s.WorkerAdmin {
		p = append(p, fmt.Sprintf("the worker %s holds DEFAULT_ADMIN_ROLE: it could grant itself any role", want.Worker.Hex()))
	}
	if slices.Contains(s.Owners, want.Worker) {
		p = append(p, fmt.Sprintf("the worker %s is a Safe owner: its approval would not be a person's", want.Worker.Hex()))
	}
	if len(p) > 0 {
		return &MismatchError{Safe: g.Safe, Timelock: g.Timelock, Problems: p}
	}
	return nil
}

// versionAtLeast13: a Safe VERSION of 1.3.0 or later in the 1.x line (numeric comparison).
func versionAtLeast13(v string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major == 1 && minor >= 3
}

func sortedAddrs(a []common.Address) []common.Address {
	out := slices.Clone(a)
	slices.SortFunc(out, func(x, y common.Address) int { return x.Cmp(y) })
	return out
}

func addrList(a []common.Address) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = x.Hex()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// Owners reads the Safe's current owners.
func Owners(ctx context.Context, b chain.Backend, safe common.Address) ([]common.Address, error) {
	v, err := callView(ctx, b, safe, safeABI(), "getOwners")
	if err != nil {
		return nil, err
	}
	return v[0].([]common.Address), nil
}

// Nonce reads the Safe's nonce: the nonce its next transaction must carry.
func Nonce(ctx context.Context, b chain.Backend, safe common.Address) (uint64, error) {
	v, err := callView(ctx, b, safe, safeABI(), "nonce")
	if err != nil {
		return 0, err
	}
	return v[0].(*big.Int).Uint64(), nil
}
