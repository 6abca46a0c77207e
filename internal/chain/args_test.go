package chain

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// argsArtifact has a constructor and functions covering the supported argument types.
func argsArtifact(t testing.TB) *Artifact {
	t.Helper()
	a, err := ParseArtifact("args.json", []byte(`{"abi":[
		{"type":"constructor","inputs":[{"name":"owner","type":"address"},{"name":"supply","type":"uint256"},{"name":"paused","type":"bool"},{"name":"label","type":"string"}]},
		{"type":"function","name":"small","inputs":[{"name":"a","type":"uint8"},{"name":"b","type":"int64"},{"name":"c","type":"int256"}]},
		{"type":"function","name":"blobs","inputs":[{"name":"id","type":"bytes32"},{"name":"data","type":"bytes"}]},
		{"type":"function","name":"lists","inputs":[{"name":"who","type":"address[]"},{"name":"pair","type":"uint16[2]"}]},
		{"type":"function","name":"tuple","inputs":[{"name":"t","type":"tuple","components":[{"name":"x","type":"uint256"}]}]}
	],"bytecode":{"object":"0x6001"},"deployedBytecode":{"object":"0x00"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEncodeConstructorArgs(t *testing.T) {
	a := argsArtifact(t)
	owner := "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" // EIP-55 checksummed
	got, err := a.EncodeConstructorArgs([]string{owner, "1000", "true", "name"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := a.ABI.Constructor.Inputs.Pack(common.HexToAddress(owner), big.NewInt(1000), true, "name")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("encoding differs from accounts/abi's")
	}
	data, err := a.DeployData([]string{owner, "0x3e8", "false", ""})
	if err != nil {
		t.Fatal(err)
	}
	want2, _ := a.ABI.Constructor.Inputs.Pack(common.HexToAddress(owner), big.NewInt(1000), false, "")
	if string(data) != string(append([]byte{0x60, 0x01}, want2...)) {
		t.Fatalf("deploy data is not creation code + arguments")
	}
}

func TestEncodeArgsErrors(t *testing.T) {
	a := argsArtifact(t)
	cases := []struct {
		fn     string
		args   []string
		index  int
		name   string
		reason string
	}{
		{"constructor", []string{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "1"}, -1, "", "want 4 arguments (address owner, uint256 supply, bool paused, string label), got 2"},
		{"constructor", []string{"0xabc", "1", "true", "x"}, 0, "owner", "not a 0x-prefixed 20-byte hex address"},
		{"constructor", []string{"0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "1", "true", "x"}, 0, "owner", "EIP-55 checksum"},
		{"constructor", []string{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "ten", "true", "x"}, 1, "supply", "not an integer"},
		{"constructor", []string{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "-1", "true", "x"}, 1, "supply", "out of range for uint256"},
		{"constructor", []string{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "1", "yes", "x"}, 2, "paused", "want true or false"},
		{"small", []string{"256", "0", "0"}, 0, "a", "out of range for uint8"},
		{"small", []string{"1", "9223372036854775808", "0"}, 1, "b", "out of range for int64"},
		{"small", []string{"1", "1", "-57896044618658097711785492504343953926634992332820282019728792003956564819969"}, 2, "c", "out of range for int256"},
		{"blobs", []string{"0x01", "0x"}, 0, "id", "want exactly 32 bytes, got 1"},
		{"blobs", []string{"0x" + strings.Repeat("00", 32), "zz"}, 1, "data", "want 0x-prefixed hex bytes"},
		{"lists", []string{"not json", "[1,2]"}, 0, "who", "want a JSON array"},
		{"lists", []string{`["0x1"]`, "[1,2]"}, 0, "who", "element 0: not a 0x-prefixed"},
		{"lists", []string{`[]`, "[1,2,3]"}, 1, "pair", "want 2 elements, got 3"},
		{"tuple", []string{"1"}, 0, "t", "not supported"},
		{"nosuch", nil, -1, "", "no such function"},
	}
	for _, tc := range cases {
		t.Run(tc.fn+"/"+tc.reason, func(t *testing.T) {
			var err error
			if tc.fn == "constructor" {
				_, err = a.EncodeConstructorArgs(tc.args)
			} else {
				_, err = a.EncodeCall(tc.fn, tc.args)
			}
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an ArgError", err)
			}
			if ae.Contract != "args" || ae.Index != tc.index || ae.Name != tc.name || !strings.Contains(ae.Reason, tc.reason) {
				t.Fatalf("got %+v; want index %d name %q reason containing %q", ae, tc.index, tc.name, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), "args.") {
				t.Fatalf("message does not name the contract: %v", err)
			}
		})
	}
}

func TestEncodeCallRoundTrip(t *testing.T) {
	a := argsArtifact(t)
	data, err := a.EncodeCall("lists", []string{`["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x0000000000000000000000000000000000000001"]`, `[7, "0x8"]`})
	if err != nil {
		t.Fatal(err)
	}
	m := a.ABI.Methods["lists"]
	vals, err := m.Inputs.Unpack(data[4:])
	if err != nil {
		t.Fatal(err)
	}
	who := vals[0].([]common.Address)
	pair := vals[1].([2]uint16)
	if len(who) != 2 || who[1] != common.BigToAddress(big.NewInt(1)) || pair != [2]uint16{7, 8} {
		t.Fatalf("round trip: %v %v", who, pair)
	}
}

// FuzzEncodeArgs: any manifest strings either encode to what accounts/abi decodes back
// without error, or give an ArgError naming the contract.
func FuzzEncodeArgs(f *testing.F) {
	a := argsArtifact(f)
	f.Add("constructor", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "1000", "true", "name")
	f.Add("small", "255", "-9", "0x10", "")
	f.Add("blobs", "0x"+strings.Repeat("ab", 32), "0x0102", "", "")
	f.Add("lists", `["0x0000000000000000000000000000000000000001"]`, `[1,2]`, "", "")
	f.Add("lists", `[[1]]`, `[1,[2]]`, "", "")
	f.Fuzz(func(t *testing.T, fn, a0, a1, a2, a3 string) {
		all := []string{a0, a1, a2, a3}
		var (
			args   abi.Arguments
			data   []byte
			err    error
			prefix int
		)
		if fn == "constructor" {
			args = a.ABI.Constructor.Inputs
			data, err = a.EncodeConstructorArgs(all[:min(len(all), len(args))])
		} else {
			m, ok := a.ABI.Methods[fn]
			if !ok {
				fn = "small"
				m = a.ABI.Methods[fn]
			}
			args, prefix = m.Inputs, 4
			data, err = a.EncodeCall(fn, all[:min(len(all), len(args))])
		}
		if err != nil {
			var ae *ArgError
			if !errors.As(err, &ae) || ae.Contract != "args" {
				t.Fatalf("error %v is not an ArgError naming the contract", err)
			}
			return
		}
		if _, err := args.Unpack(data[prefix:]); err != nil {
			t.Fatalf("encoded data does not decode: %v", err)
		}
	})
}
