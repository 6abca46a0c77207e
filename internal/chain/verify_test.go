package chain

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestCompareCode(t *testing.T) {
	v1 := loadDemo(t, "CounterV1")
	exec, meta := SplitMetadata(v1.DeployedBytecode)
	if len(meta) == 0 || meta[0] != 0xa2 || len(exec)+len(meta) != len(v1.DeployedBytecode) {
		t.Fatalf("solc metadata tail not found: %d exec, %d meta bytes", len(exec), len(meta))
	}
	imm := v1.Immutables[0]
	withImmutable := bytes.Clone(v1.DeployedBytecode)
	withImmutable[imm.Start+imm.Length-1] = 0x42 // an immutable value the constructor set
	otherMeta := bytes.Clone(v1.DeployedBytecode)
	otherMeta[len(otherMeta)-10] ^= 0xff // a different metadata hash
	changed := bytes.Clone(v1.DeployedBytecode)
	changed[5] ^= 0xff
	cases := []struct {
		name     string
		code     []byte
		metaOK   bool
		mismatch string
	}{
		{"identical", v1.DeployedBytecode, true, ""},
		{"immutable set", withImmutable, true, ""},
		{"metadata differs", otherMeta, false, ""},
		{"opcode differs", changed, false, "first difference at byte 5"},
		{"truncated", v1.DeployedBytecode[:100], false, "length 100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			metaOK, err := CompareCode(tc.code, v1)
			if tc.mismatch != "" {
				if !errors.Is(err, ErrCodeMismatch) || !strings.Contains(err.Error(), tc.mismatch) {
					t.Fatalf("got %v, want mismatch %q", err, tc.mismatch)
				}
				return
			}
			if err != nil || metaOK != tc.metaOK {
				t.Fatalf("got %t, %v; want metadata match %t", metaOK, err, tc.metaOK)
			}
		})
	}
	// Without immutable references a set immutable is a mismatch, and the error says why.
	hh, err := LoadArtifact("testdata/hardhat-nodbg/CounterV1.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CompareCode(withImmutable, hh); !errors.Is(err, ErrCodeMismatch) || !strings.Contains(err.Error(), "no immutable references") {
		t.Fatalf("got %v", err)
	}
}

func TestVerifyCodeNoCode(t *testing.T) {
	c := newTestChain(t)
	if _, err := VerifyCode(context.Background(), c.client, c.key.Address, loadDemo(t, "CounterV1")); !errors.Is(err, ErrCodeMismatch) || !strings.Contains(err.Error(), "no code") {
		t.Fatalf("got %v", err)
	}
}

// FuzzSplitMetadata: the split is a partition of the input and the tail, when found, is what
// its length suffix says.
func FuzzSplitMetadata(f *testing.F) {
	f.Add(loadDemo(f, "CounterV1").DeployedBytecode)
	f.Add([]byte{0xa1, 0x00, 0x01})
	f.Add([]byte{0x00})
	f.Fuzz(func(t *testing.T, code []byte) {
		exec, meta := SplitMetadata(code)
		if !bytes.Equal(append(bytes.Clone(exec), meta...), code) {
			t.Fatal("split is not a partition")
		}
		if len(meta) > 0 {
			n := int(code[len(code)-2])<<8 | int(code[len(code)-1])
			if len(meta) != n+2 || meta[0]&0xe0 != 0xa0 {
				t.Fatalf("tail of %d bytes, suffix says %d", len(meta), n)
			}
		}
	})
}
