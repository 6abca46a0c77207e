package safe

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Proxy kinds a governed upgrade switches.
const (
	KindUUPS        = "uups"        // upgradeToAndCall on the proxy itself
	KindTransparent = "transparent" // ProxyAdmin.upgradeAndCall(proxy, implementation, data)
)

// UpgradeRequest says which proxy moves to which implementation, in which release.
type UpgradeRequest struct {
	ReleaseID string         `json:"releaseId"`
	Contract  string         `json:"contract"` // the manifest's contract name, e.g. "Counter"
	Kind      string         `json:"kind"`     // KindUUPS or KindTransparent
	Proxy     common.Address `json:"proxy"`
	// ProxyAdmin is the transparent proxy's ProxyAdmin contract (owned by the timelock).
	ProxyAdmin common.Address `json:"proxyAdmin,omitempty"`
	Next       common.Address `json:"next"`     // the new, verified implementation
	Previous   common.Address `json:"previous"` // what the proxy points at now: the revert target
	// NextCodeHash is keccak256 of Next's runtime code as verified against the release's
	// artifact, shown to the owners beside the address.
	NextCodeHash common.Hash `json:"nextCodeHash"`
}

// Proposal is one governed upgrade: a single Safe transaction that schedules, through
// MultiSendCallOnly, two timelock operations with the same delay:
//
//   - Upgrade: the proxy to Next;
//   - Revert:  the proxy back to Previous, with Upgrade as its predecessor, so it cannot run
//     before the upgrade has, and is ready the moment the upgrade lands.
//
// This is the rollback choice (DESIGN.md): reverting needs no fresh delay and no second round
// of owner approvals at an incident; the revert can only undo this release's own upgrade. When
// the release succeeds, the unused revert stays scheduled until the Safe cancels it (Cancel).
type Proposal struct {
	Request    UpgradeRequest `json:"request"`
	Timelock   common.Address `json:"timelock"`
	Delay      uint64         `json:"delay"` // seconds, the timelock's minDelay at proposal time
	Upgrade    TimelockOp     `json:"upgrade"`
	Revert     TimelockOp     `json:"revert"`
	SafeTx     SafeTx         `json:"safeTx"`
	SafeTxHash common.Hash    `json:"safeTxHash"`
	// Decoded is the Safe transaction decoded back from its own bytes: what owners check.
	Decoded []DecodedCall `json:"decoded"`
}

// DecodedCall is one call with its function and arguments rendered for people; Inner holds
// the calls its bytes argument carries (multiSend → schedule → upgradeToAndCall).
type DecodedCall struct {
	To       common.Address `json:"to"`
	Function string         `json:"function"`
	Args     []string       `json:"args"`
	Inner    []DecodedCall  `json:"inner,omitempty"`
}

// Governance names a chain's Safe, timelock and MultiSendCallOnly library.
type Governance struct {
	ChainID   uint64         `json:"chainId"`
	Safe      common.Address `json:"safe"`
	Timelock  common.Address `json:"timelock"`
	MultiSend common.Address `json:"multiSend"`
}

var (
	upgradeUUPSABI        = mustABIJSON(`[{"type":"function","name":"upgradeToAndCall","stateMutability":"payable","inputs":[{"name":"newImplementation","type":"address"},{"name":"data","type":"bytes"}],"outputs":[]}]`)
	upgradeTransparentABI = mustABIJSON(`[{"type":"function","name":"upgradeAndCall","stateMutability":"payable","inputs":[{"name":"proxy","type":"address"},{"name":"implementation","type":"address"},{"name":"data","type":"bytes"}],"outputs":[]}]`)
)

func mustABIJSON(s string) abi.ABI {
	a, err := abi.JSON(strings.NewReader(s))
	if err != nil {
		panic(err)
	}
	return a
}

// upgradeCall is the (target, calldata) that points the proxy at impl.
func upgradeCall(r UpgradeRequest, impl common.Address) (common.Address, []byte, error) {
	switch r.Kind {
	case KindUUPS:
		d, err := upgradeUUPSABI.Pack("upgradeToAndCall", impl, []byte{})
		return r.Proxy, d, err
	case KindTransparent:
		if r.ProxyAdmin == (common.Address{}) {
			return common.Address{}, nil, errors.New("a transparent proxy needs its ProxyAdmin address")
		}
		d, err := upgradeTransparentABI.Pack("upgradeAndCall", r.Proxy, impl, []byte{})
		return r.ProxyAdmin, d, err
	}
	return common.Address{}, nil, fmt.Errorf("proxy kind %q: want %s or %s", r.Kind, KindUUPS, KindTransparent)
}

// Propose builds the proposal for r at the Safe's nonce with the timelock delay. It is pure:
// the same inputs give the same Safe transaction and hash, so a retried activity proposes the
// same thing and owners' approvals carry over.
func Propose(g Governance, r UpgradeRequest, nonce, delay uint64) (*Proposal, error) {
	switch {
	case r.ReleaseID == "" || r.Contract == "":
		return nil, errors.New("propose: release id and contract are required")
	case r.Next == (common.Address{}) || r.Previous == (common.Address{}) || r.Proxy == (common.Address{}):
		return nil, fmt.Errorf("propose %s: proxy, next and previous implementation are required", r.Contract)
	case r.Next == r.Previous:
		return nil, fmt.Errorf("propose %s: the proxy already points at %s", r.Contract, r.Next.Hex())
	case g.Safe == (common.Address{}) || g.Timelock == (common.Address{}) || g.MultiSend == (common.Address{}) || g.ChainID == 0:
		return nil, errors.New("propose: governance needs chain id, Safe, timelock and MultiSendCallOnly addresses")
	}
	target, upData, err := upgradeCall(r, r.Next)
	if err != nil {
		return nil, fmt.Errorf("propose %s: %w", r.Contract, err)
	}
	_, revData, err := upgradeCall(r, r.Previous)
	if err != nil {
		return nil, fmt.Errorf("propose %s: %w", r.Contract, err)
	}
	up, err := NewTimelockOp(target, nil, upData, common.Hash{}, SaltFromRelease(r.ReleaseID, "upgrade/"+r.Contract))
	if err != nil {
		return nil, err
	}
	rev, err := NewTimelockOp(target, nil, revData, up.ID, SaltFromRelease(r.ReleaseID, "revert/"+r.Contract))
	if err != nil {
		return nil, err
	}
	var calls []Call
	for _, op := range []TimelockOp{up, rev} {
		d, err := op.ScheduleData(delay)
		if err != nil {
			return nil, fmt.Errorf("propose %s: schedule: %w", r.Contract, err)
		}
		calls = append(calls, Call{To: g.Timelock, Value: (*hexutil.Big)(new(big.Int)), Data: d})
	}
	ms, err := MultiSendData(calls)
	if err != nil {
		return nil, fmt.Errorf("propose %s: multiSend: %w", r.Contract, err)
	}
	p := &Proposal{Request: r, Timelock: g.Timelock, Delay: delay, Upgrade: up, Revert: rev}
	p.SafeTx = SafeTx{Safe: g.Safe, ChainID: g.ChainID, To: g.MultiSend, Value: zero(), Data: ms, Operation: OperationDelegateCall,
		SafeTxGas: zero(), BaseGas: zero(), GasPrice: zero(), Nonce: nonce}
	if p.SafeTxHash, err = p.SafeTx.Hash(); err != nil {
		return nil, err
	}
	if p.Decoded, err = Decode(p.SafeTx.To, p.SafeTx.Data); err != nil {
		return nil, fmt.Errorf("propose %s: decode own calldata: %w", r.Contract, err)
	}
	return p, nil
}

func zero() *hexutil.Big { return (*hexutil.Big)(new(big.Int)) }

// CancelTx is the Safe transaction that aborts a proposal: one multiSend of cancel(id) for
// each of its operations still pending, at the Safe nonce given.
func CancelTx(g Governance, p *Proposal, pending []TimelockOp, nonce uint64) (SafeTx, common.Hash, error) {
	var calls []Call
	for _, op := range pending {
		d, err := op.CancelData()
		if err != nil {
			return SafeTx{}, common.Hash{}, err
		}
		calls = append(calls, Call{To: p.Timelock, Value: zero(), Data: d})
	}
	if len(calls) == 0 {
		return SafeTx{}, common.Hash{}, errors.New("cancel: no pending operation")
	}
	ms, err := MultiSendData(calls)
	if err != nil {
		return SafeTx{}, common.Hash{}, err
	}
	tx := SafeTx{Safe: g.Safe, ChainID: g.ChainID, To: g.MultiSend, Value: zero(), Data: ms, Operation: OperationDelegateCall,
		SafeTxGas: zero(), BaseGas: zero(), GasPrice: zero(), Nonce: nonce}
	h, err := tx.Hash()
	return tx, h, err
}

// decoders are the ABIs Decode knows: MultiSendCallOnly, the timelock, both upgrade entry points.
func decoders() []*abi.ABI {
	return []*abi.ABI{&mustArtifact(NameMultiSend).ABI, timelockABI(), &upgradeUUPSABI, &upgradeTransparentABI}
}

// Decode renders a call's data for people, recursing into multiSend batches and into the
// bytes argument of schedule/execute. Unknown selectors are an error: owners must never be
// shown a call shipgate cannot explain.
func Decode(to common.Address, data []byte) ([]DecodedCall, error) {
	return decode(to, data, 0)
}

func decode(to common.Address, data []byte, depth int) ([]DecodedCall, error) {
	if depth > 4 {
		return nil, errors.New("decode: nested too deep")
	}
	if len(data) < 4 {
		return nil, fmt.Errorf("decode call to %s: %d bytes of calldata, want a 4-byte selector", to.Hex(), len(data))
	}
	for _, a := range decoders() {
		m, err := a.MethodById(data[:4])
		if err != nil {
			continue
		}
		vals, err := m.Inputs.Unpack(data[4:])
		if err != nil {
			return nil, fmt.Errorf("decode %s on %s: %w", m.Sig, to.Hex(), err)
		}
		dc := DecodedCall{To: to, Function: m.Sig}
		if m.Name == "multiSend" {
			calls, err := SplitMultiSend(vals[0].([]byte))
			if err != nil {
				return nil, err
			}
			for _, c := range calls {
				inner, err := decode(c.To, c.Data, depth+1)
				if err != nil {
					return nil, err
				}
				dc.Inner = append(dc.Inner, inner...)
			}
			return []DecodedCall{dc}, nil
		}
		var target common.Address
		for i, in := range m.Inputs {
			dc.Args = append(dc.Args, in.Name+"="+formatArg(vals[i]))
			if in.Name == "target" {
				target = vals[i].(common.Address)
			}
		}
		if (m.Name == "schedule" || m.Name == "execute") && len(vals) > 2 {
			inner, err := decode(target, vals[2].([]byte), depth+1)
			if err != nil {
				return nil, err
			}
			dc.Inner = inner
			for i, a := range dc.Args {
				if strings.HasPrefix(a, "data=") {
					dc.Args[i] = "data=(decoded below)"
				}
			}
		}
		return []DecodedCall{dc}, nil
	}
	return nil, fmt.Errorf("decode call to %s: unknown selector 0x%x", to.Hex(), data[:4])
}

func formatArg(v any) string {
	switch x := v.(type) {
	case common.Address:
		return x.Hex()
	case [32]byte:
		return common.Hash(x).Hex()
	case []byte:
		return hexutil.Encode(x)
	case *big.Int:
		return x.String()
	}
	return fmt.Sprint(v)
}

// Lines renders decoded calls as indented lines, for status, the Temporal UI and Slack.
func Lines(calls []DecodedCall) []string {
	var out []string
	var walk func([]DecodedCall, string)
	walk = func(cs []DecodedCall, indent string) {
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s%s.%s(%s)", indent, c.To.Hex(), c.Function[:strings.IndexByte(c.Function, '(')], strings.Join(c.Args, ", ")))
			walk(c.Inner, indent+"  ")
		}
	}
	walk(calls, "")
	return out
}
