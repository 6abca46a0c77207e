package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/evidence"
)

// TypeChainCall is an eth_call of a view function, its single result compared with the
// params: e.g. a deposit cap that must stay below a limit while the canary runs, or paused()
// false after an upgrade. The node must serve `chainId`, so a wrong rpc fails instead of
// reading another chain.
const TypeChainCall = "chain-call"

// chainCallParams: rpc and chainId name the node (the policy's, like an http check's url),
// address the contract, function its signature with the result type ("cap()(uint256)",
// "paused()(bool)", "balanceOf(address)(uint256)"), args the call's arguments as a JSON array
// of strings. max/min bound a numeric result, equals any result (its text: "false", a number,
// an address).
var chainCallParams = map[string]param{
	"rpc": {true, evidence.Same}, "chainId": {true, evidence.Same}, "address": {true, evidence.Same}, "function": {true, evidence.Same},
	"args": {false, evidence.Same}, "max": {false, evidence.Lower}, "min": {false, evidence.Higher}, "equals": {false, evidence.Same},
}

// chainCall holds a parsed chain-call check.
type chainCall struct {
	rpc     string
	chainID uint64
	address common.Address
	method  abi.Method
	args    []string
	equals  string
}

var (
	sigRE     = regexp.MustCompile(`^([A-Za-z_$][A-Za-z0-9_$]*)\(([^()]*)\)\(([^()]+)\)$`)
	addressRE = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
)

// ParseFunction reads "name(type,...)(resultType)" into an ABI method with one result, of a
// type chain-call can compare: bool, (u)int<N>, address, string or bytes32.
func ParseFunction(sig string) (abi.Method, error) {
	m := sigRE.FindStringSubmatch(strings.ReplaceAll(sig, " ", ""))
	if m == nil {
		return abi.Method{}, fmt.Errorf("%q: want name(argTypes)(resultType), e.g. cap()(uint256)", sig)
	}
	var ins abi.Arguments
	if m[2] != "" {
		for i, t := range strings.Split(m[2], ",") {
			typ, err := abi.NewType(t, "", nil)
			if err != nil {
				return abi.Method{}, fmt.Errorf("%q: argument %d: %v", sig, i+1, err)
			}
			ins = append(ins, abi.Argument{Name: fmt.Sprintf("arg%d", i), Type: typ})
		}
	}
	out, err := abi.NewType(m[3], "", nil)
	if err != nil {
		return abi.Method{}, fmt.Errorf("%q: result: %v", sig, err)
	}
	switch out.T {
	case abi.BoolTy, abi.IntTy, abi.UintTy, abi.AddressTy, abi.StringTy:
	case abi.FixedBytesTy:
		if out.Size != 32 {
			return abi.Method{}, fmt.Errorf("%q: result %s: only bytes32 of the fixed bytes types", sig, m[3])
		}
	default:
		return abi.Method{}, fmt.Errorf("%q: result %s: want bool, an integer, address, string or bytes32", sig, m[3])
	}
	return abi.NewMethod(m[1], m[1], abi.Function, "view", false, false, ins, abi.Arguments{{Name: "result", Type: out}}), nil
}

func parseChainCall(typ string, get func(string) (string, error), raw map[string]string, p *parsed) error {
	c := &chainCall{}
	var err error
	if c.rpc, err = get("rpc"); err != nil {
		return err
	}
	if u, err := url.Parse(c.rpc); err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return fmt.Errorf("%s check: param rpc: not an http(s) or ws(s) URL", typ)
	}
	if c.chainID, err = strconv.ParseUint(strings.TrimSpace(raw["chainId"]), 10, 64); err != nil || c.chainID == 0 {
		return fmt.Errorf("%s check: param chainId: %q is not a positive chain id", typ, raw["chainId"])
	}
	addr, err := get("address")
	if err != nil {
		return err
	}
	if !addressRE.MatchString(addr) {
		return fmt.Errorf("%s check: param address: %q is not an address (0x and 40 hex digits)", typ, addr)
	}
	c.address = common.HexToAddress(addr)
	if c.method, err = ParseFunction(raw["function"]); err != nil {
		return fmt.Errorf("%s check: param function: %v", typ, err)
	}
	if a := strings.TrimSpace(raw["args"]); a != "" {
		if err := json.Unmarshal([]byte(a), &c.args); err != nil {
			return fmt.Errorf("%s check: param args: want a JSON array of strings: %v", typ, err)
		}
	}
	if len(c.args) != len(c.method.Inputs) {
		return fmt.Errorf("%s check: param args: %s takes %d arguments, got %d", typ, c.method.Sig, len(c.method.Inputs), len(c.args))
	}
	if _, err := c.callData(); err != nil {
		return fmt.Errorf("%s check: param args: %v", typ, err)
	}
	if p.max, err = number(typ, "max", raw); err != nil {
		return err
	}
	if p.min, err = number(typ, "min", raw); err != nil {
		return err
	}
	c.equals = strings.TrimSpace(raw["equals"])
	if p.max == nil && p.min == nil && c.equals == "" {
		return fmt.Errorf("%s check: params max, min and equals: at least one is required", typ)
	}
	out := c.method.Outputs[0].Type.T
	if (p.max != nil || p.min != nil) && out != abi.IntTy && out != abi.UintTy {
		return fmt.Errorf("%s check: params max and min: the result of %s is not a number", typ, c.method.Sig)
	}
	p.call = c
	return nil
}

// callData encodes the call with the args as the manifest's constructor arguments are encoded.
func (c *chainCall) callData() ([]byte, error) {
	a := &chain.Artifact{Name: "chain-call", ABI: abi.ABI{Methods: map[string]abi.Method{c.method.Name: c.method}}}
	return a.EncodeCall(c.method.Name, c.args)
}

func probeChainCall(ctx context.Context, p parsed) result {
	c := p.call
	data, err := c.callData()
	if err != nil {
		return errorf("%s check: %v", TypeChainCall, err)
	}
	b, err := chain.Dial(ctx, c.rpc, c.chainID)
	if err != nil {
		return errorf("%s check: %v", TypeChainCall, err)
	}
	defer b.Close()
	what := fmt.Sprintf("%s on %s (chain %d)", c.method.Sig, c.address.Hex(), c.chainID)
	out, err := b.CallContract(ctx, ethereum.CallMsg{To: &c.address, Data: data}, nil)
	if err != nil {
		// the contract answered with a revert: the check fails, the system answered
		return failf("%s: %v", what, err)
	}
	vals, err := c.method.Outputs.Unpack(out)
	if err != nil || len(vals) != 1 {
		return failf("%s: the answer (%d bytes) is not a %s: %v", what, len(out), c.method.Outputs[0].Type, err)
	}
	got := formatResult(vals[0])
	if c.equals != "" && !strings.EqualFold(got, c.equals) {
		return failf("%s = %s, want %s", what, got, c.equals)
	}
	if n, ok := vals[0].(*big.Int); ok || p.max != nil || p.min != nil {
		if !ok {
			n, _ = new(big.Int).SetString(got, 10)
		}
		f, _ := new(big.Float).SetInt(n).Float64()
		if p.max != nil && f > *p.max {
			return failf("%s = %s, above max %v", what, got, *p.max)
		}
		if p.min != nil && f < *p.min {
			return failf("%s = %s, below min %v", what, got, *p.min)
		}
	}
	return passf("%s = %s", what, got)
}

// formatResult prints a decoded result: integers in decimal, addresses checksummed, bytes32 hex.
func formatResult(v any) string {
	switch x := v.(type) {
	case *big.Int:
		return x.String()
	case common.Address:
		return x.Hex()
	case [32]byte:
		return common.Hash(x).Hex()
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	// small integer types (uint8 … int64) decode to Go integers
	return fmt.Sprint(v)
}
