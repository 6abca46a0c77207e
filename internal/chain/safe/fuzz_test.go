package safe

import (
	"bytes"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// SplitMultiSend and Decode read bytes a proposal carries: they never panic, and what
// MultiSendData packs comes back unchanged.
func FuzzSplitMultiSend(f *testing.F) {
	to := common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3")
	f.Add([]byte{0xde, 0xad}, []byte{})
	f.Add([]byte{}, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		calls := []Call{{To: to, Value: zero(), Data: a}, {To: to, Value: zero(), Data: b}}
		data, err := MultiSendData(calls)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := mustArtifact(NameMultiSend).ABI.Methods["multiSend"].Inputs.Unpack(data[4:])
		if err != nil {
			t.Fatal(err)
		}
		back, err := SplitMultiSend(vals[0].([]byte))
		if err != nil || len(back) != 2 || !bytes.Equal(back[0].Data, a) || !bytes.Equal(back[1].Data, b) || back[0].To != to {
			t.Fatalf("round trip: %+v, %v", back, err)
		}
		// arbitrary bytes: an error or calls, never a panic
		_, _ = SplitMultiSend(a)
		_, _ = Decode(to, a)
	})
}

// refusalOf reads revert data a node returns: never a panic, and a Safe code only for an
// Error(string) whose string is GS and three digits.
func FuzzRefusalOf(f *testing.F) {
	f.Add([]byte{0x08, 0xc3, 0x79, 0xa0})
	f.Add([]byte("GS026"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if r := refusalOf(SafeTx{}, common.Hash{}, data); r != nil && !safeCode.MatchString(r.Code) {
			t.Fatalf("code %q from %x", r.Code, data)
		}
	})
}
