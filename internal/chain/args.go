package chain

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// ArgError names the contract, function, argument and reason of a bad manifest argument.
type ArgError struct {
	Contract string
	Function string // "constructor" or a method name
	Index    int    // -1 when the count is wrong
	Name     string
	Type     string
	Reason   string
}

func (e *ArgError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("%s.%s: %s", e.Contract, e.Function, e.Reason)
	}
	name := e.Name
	if name == "" {
		name = "unnamed"
	}
	return fmt.Sprintf("%s.%s: argument %d (%s %s): %s", e.Contract, e.Function, e.Index, name, e.Type, e.Reason)
}

// DeployData is the creation transaction's data: creation code followed by the ABI-encoded
// constructor arguments given as manifest strings.
func (a *Artifact) DeployData(args []string) ([]byte, error) {
	if len(a.Bytecode) == 0 {
		return nil, fmt.Errorf("%s: artifact %s has no creation bytecode (abstract contract or interface?)", a.Name, a.File)
	}
	enc, err := a.EncodeConstructorArgs(args)
	if err != nil {
		return nil, err
	}
	return append(append([]byte{}, a.Bytecode...), enc...), nil
}

// EncodeConstructorArgs ABI-encodes manifest strings for the constructor's parameters.
func (a *Artifact) EncodeConstructorArgs(args []string) ([]byte, error) {
	values, err := convertArgs(a.Name, "constructor", a.ABI.Constructor.Inputs, args)
	if err != nil {
		return nil, err
	}
	out, err := a.ABI.Constructor.Inputs.Pack(values...)
	if err != nil {
		return nil, &ArgError{Contract: a.Name, Function: "constructor", Index: -1, Reason: err.Error()}
	}
	return out, nil
}

// EncodeCall ABI-encodes a call of method (a name, or a signature such as "f(uint256)" when
// overloaded) with manifest strings, selector included: e.g. an initializer for a proxy.
func (a *Artifact) EncodeCall(method string, args []string) ([]byte, error) {
	m, ok := a.ABI.Methods[method]
	if !ok {
		for _, cand := range a.ABI.Methods {
			if cand.Sig == method {
				m, ok = cand, true
				break
			}
		}
	}
	if !ok {
		return nil, &ArgError{Contract: a.Name, Function: method, Index: -1, Reason: "no such function in the ABI"}
	}
	values, err := convertArgs(a.Name, m.Name, m.Inputs, args)
	if err != nil {
		return nil, err
	}
	enc, err := m.Inputs.Pack(values...)
	if err != nil {
		return nil, &ArgError{Contract: a.Name, Function: m.Name, Index: -1, Reason: err.Error()}
	}
	return append(append([]byte{}, m.ID...), enc...), nil
}

func convertArgs(contract, fn string, params abi.Arguments, args []string) ([]any, error) {
	if len(args) != len(params) {
		return nil, &ArgError{Contract: contract, Function: fn, Index: -1, Reason: fmt.Sprintf("want %d arguments %s, got %d", len(params), signature(params), len(args))}
	}
	out := make([]any, len(args))
	for i, p := range params {
		v, err := argValue(p.Type, args[i], 0)
		if err != nil {
			return nil, &ArgError{Contract: contract, Function: fn, Index: i, Name: p.Name, Type: p.Type.String(), Reason: err.Error()}
		}
		out[i] = v.Interface()
	}
	return out, nil
}

func signature(params abi.Arguments) string {
	parts := make([]string, len(params))
	for i, p := range params {
		parts[i] = strings.TrimSpace(p.Type.String() + " " + p.Name)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// argValue converts one manifest string to the Go value accounts/abi packs for t.
func argValue(t abi.Type, s string, depth int) (reflect.Value, error) {
	if depth > 8 {
		return reflect.Value{}, fmt.Errorf("arrays nested too deeply")
	}
	s = strings.TrimSpace(s)
	switch t.T {
	case abi.AddressTy:
		if !common.IsHexAddress(s) || !strings.HasPrefix(s, "0x") {
			return reflect.Value{}, fmt.Errorf("not a 0x-prefixed 20-byte hex address: %q", s)
		}
		addr := common.HexToAddress(s)
		// Mixed case means the author used an EIP-55 checksum: a typo must not deploy.
		if s[2:] != strings.ToLower(s[2:]) && s[2:] != strings.ToUpper(s[2:]) && addr.Hex() != s {
			return reflect.Value{}, fmt.Errorf("address %q fails its EIP-55 checksum (want %s)", s, addr.Hex())
		}
		return reflect.ValueOf(addr), nil
	case abi.BoolTy:
		switch s {
		case "true":
			return reflect.ValueOf(true), nil
		case "false":
			return reflect.ValueOf(false), nil
		}
		return reflect.Value{}, fmt.Errorf("want true or false, got %q", s)
	case abi.StringTy:
		return reflect.ValueOf(s), nil
	case abi.UintTy, abi.IntTy:
		return intValue(t, s)
	case abi.BytesTy:
		b, err := hexutil.Decode(s)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("want 0x-prefixed hex bytes: %v", err)
		}
		return reflect.ValueOf(b), nil
	case abi.FixedBytesTy:
		b, err := hexutil.Decode(s)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("want 0x-prefixed hex of %d bytes: %v", t.Size, err)
		}
		if len(b) != t.Size {
			return reflect.Value{}, fmt.Errorf("want exactly %d bytes, got %d", t.Size, len(b))
		}
		v := reflect.New(t.GetType()).Elem()
		reflect.Copy(v, reflect.ValueOf(b))
		return v, nil
	case abi.SliceTy, abi.ArrayTy:
		elems, err := splitJSONArray(s)
		if err != nil {
			return reflect.Value{}, err
		}
		if t.T == abi.ArrayTy && len(elems) != t.Size {
			return reflect.Value{}, fmt.Errorf("want %d elements, got %d", t.Size, len(elems))
		}
		var v reflect.Value
		if t.T == abi.SliceTy {
			v = reflect.MakeSlice(t.GetType(), len(elems), len(elems))
		} else {
			v = reflect.New(t.GetType()).Elem()
		}
		for i, e := range elems {
			ev, err := argValue(*t.Elem, e, depth+1)
			if err != nil {
				return reflect.Value{}, fmt.Errorf("element %d: %v", i, err)
			}
			v.Index(i).Set(ev)
		}
		return v, nil
	}
	return reflect.Value{}, fmt.Errorf("type %s is not supported in manifest arguments", t.String())
}

func intValue(t abi.Type, s string) (reflect.Value, error) {
	n, ok := new(big.Int).SetString(s, 0) // decimal, or 0x hex
	if !ok {
		return reflect.Value{}, fmt.Errorf("not an integer: %q", s)
	}
	if t.T == abi.UintTy {
		if n.Sign() < 0 || n.BitLen() > t.Size {
			return reflect.Value{}, fmt.Errorf("%s out of range for uint%d", s, t.Size)
		}
	} else {
		lim := new(big.Int).Lsh(big.NewInt(1), uint(t.Size-1))
		if n.Cmp(lim) >= 0 || n.Cmp(new(big.Int).Neg(lim)) < 0 {
			return reflect.Value{}, fmt.Errorf("%s out of range for int%d", s, t.Size)
		}
	}
	// accounts/abi wants native Go ints for sizes 8..64 and *big.Int above.
	rt := t.GetType()
	switch rt.Kind() {
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v := reflect.New(rt).Elem()
		v.SetUint(n.Uint64())
		return v, nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v := reflect.New(rt).Elem()
		v.SetInt(n.Int64())
		return v, nil
	}
	return reflect.ValueOf(n), nil
}

// splitJSONArray reads an array argument written as JSON: ["0xab..", "2"] or [1, 2].
// Each element becomes the string another argValue call converts.
func splitJSONArray(s string) ([]string, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("want a JSON array such as [\"1\", \"2\"]: %v", err)
	}
	out := make([]string, len(raw))
	for i, r := range raw {
		var str string
		if err := json.Unmarshal(r, &str); err == nil {
			out[i] = str
			continue
		}
		out[i] = string(r) // numbers, booleans, nested arrays keep their JSON text
	}
	return out, nil
}
