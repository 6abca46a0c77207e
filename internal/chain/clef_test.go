package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

func TestParseClefEndpoint(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "/run/clef/clef.ipc", want: "/run/clef/clef.ipc"},
		{in: " /run/clef/../clef/clef.ipc\n", want: "/run/clef/clef.ipc"},
		{in: "http://127.0.0.1:8550", want: "http://127.0.0.1:8550"},
		{in: "http://localhost:8550/", want: "http://localhost:8550/"},
		{in: "http://[::1]:8550", want: "http://[::1]:8550"},
		{in: "https://signer.internal:443/clef", want: "https://signer.internal:443/clef"},
		{in: "", err: "empty endpoint"},
		{in: "clef.ipc", err: "neither an absolute IPC socket path nor an http(s) URL"},
		{in: "http://10.0.0.5:8550", err: "plain http only to a loopback address"},
		{in: "ws://127.0.0.1:8550", err: `scheme "ws"`},
		{in: "https://op:hunter2hunter2@signer.internal", err: "credentials in the URL are refused"},
		{in: "https://signer.internal/?token=hunter2hunter2", err: "a query or fragment is refused"},
		{in: "https://signer.internal/#hunter2hunter2", err: "a query or fragment is refused"},
		{in: "https:///clef", err: "no host"},
		{in: "https://bad host/", err: "is not a URL"},
	} {
		got, err := ParseClefEndpoint(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseClefEndpoint(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseClefEndpoint(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("ParseClefEndpoint(%q): the error quotes the secret: %v", tc.in, err)
		}
	}
}

// FuzzParseClefEndpoint: whatever the input, an accepted endpoint is an absolute clean path or
// an http(s) URL without credentials, query or fragment (plain http only on loopback) that
// rpc.DialContext dials as such; and no error quotes a secret put in a URL's user info, query
// or fragment.
func FuzzParseClefEndpoint(f *testing.F) {
	for _, s := range []string{"/run/clef/clef.ipc", "http://127.0.0.1:8550", "https://h/p", "https://u:p@h/", "http://h?x#y",
		"relative/clef.ipc", "https://a@b@c/", "http://[::1]:1/", "HTTP://LOCALHOST", "https://h/@x?y", "\x00", "://"} {
		f.Add(s, "s3cretTokenValue")
	}
	f.Fuzz(func(t *testing.T, in, secret string) {
		got, err := ParseClefEndpoint(in)
		if err == nil {
			if strings.Contains(got, "://") {
				u, perr := url.Parse(got)
				if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Hostname() == "" {
					t.Fatalf("accepted %q as %q (%+v, %v)", in, got, u, perr)
				}
				if u.Scheme == "http" && !isLoopback(u.Hostname()) {
					t.Fatalf("accepted plain http to %q", u.Hostname())
				}
			} else if !filepath.IsAbs(got) || filepath.Clean(got) != got {
				t.Fatalf("accepted %q as path %q", in, got)
			}
		}
		// A secret (long enough not to occur by chance in the rest of the message) in any
		// place of a URL that may hold one never shows in the error.
		if len(secret) < 8 || strings.ContainsAny(secret, "/?#@:%[] \t\r\n\x00\\") || strings.Contains(in, secret) {
			return
		}
		for _, bad := range []string{
			"https://op:" + secret + "@" + in,
			"https://" + secret + "@signer.internal/",
			"http://127.0.0.1:8550/?token=" + secret,
			"https://signer.internal/" + in + "?" + secret,
			"https://signer.internal/#" + secret,
			"http://op:" + secret + "@10.1.2.3:8550/" + in,
		} {
			_, err := ParseClefEndpoint(bad)
			if err == nil {
				t.Fatalf("accepted %q", bad)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("ParseClefEndpoint(%q): error quotes the secret: %v", bad, err)
			}
		}
	})
}

func TestParseAddress(t *testing.T) {
	a := common.HexToAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
	for _, tc := range []struct {
		in  string
		ok  bool
		msg string
	}{
		{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", true, ""},
		{"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", true, ""},
		{"0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", true, ""},
		{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", false, "invalid EIP-55 checksum"},
		{"5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", false, "0x-prefixed"},
		{"0x" + devHex, false, "(66 characters)"}, // a private key in the wrong variable: not echoed
		{"0x0000000000000000000000000000000000000000", false, "zero address"},
	} {
		got, err := parseAddress(tc.in)
		if tc.ok != (err == nil) || tc.ok && got != a || !tc.ok && !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("parseAddress(%q) = %s, %v", tc.in, got.Hex(), err)
		}
		if err != nil && strings.Contains(err.Error(), devHex[:16]) {
			t.Errorf("parseAddress echoes a private key: %v", err)
		}
	}
}

// FuzzParseAddress: an accepted address is exactly the 20 bytes written, in any case form
// that is not a broken checksum; no error quotes an input that is not an address.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "0x" + devHex, "0x", "", " 0xAB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseAddress(in)
		if err != nil {
			if len(in) > 8 && !common.IsHexAddress(strings.TrimSpace(in)) && strings.Contains(err.Error(), in) {
				t.Fatalf("error quotes the input %q: %v", in, err)
			}
			return
		}
		s := strings.TrimSpace(in)
		if !strings.EqualFold(s, got.Hex()) || got == (common.Address{}) {
			t.Fatalf("parseAddress(%q) = %s", in, got.Hex())
		}
		if h := s[2:]; h != strings.ToLower(h) && h != strings.ToUpper(h) && s != got.Hex() {
			t.Fatalf("accepted %q with a broken checksum (want %s)", in, got.Hex())
		}
	})
}

// A Clef key comes from the worker's configuration only, is accepted where a hex key is not
// (a production profile), prints where it signs, and conflicts with the other forms.
func TestLoadKeyClef(t *testing.T) {
	addr := "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	t.Setenv("SHIPGATE_CLEF_DEPLOYER_C", "/run/clef/clef.ipc")
	t.Setenv("SHIPGATE_CLEF_ADDRESS_DEPLOYER_C", addr)
	k, err := LoadKeyFrom("deployer-c", false)
	if err != nil {
		t.Fatal(err)
	}
	if k.Address != common.HexToAddress(addr) || k.String() != "key deployer-c ("+addr+") via Clef at /run/clef/clef.ipc" || fmt.Sprintf("%+v", k) != k.String() {
		t.Fatalf("key %s, %+v", k.Address.Hex(), k)
	}

	t.Setenv("SHIPGATE_CLEF_NOADDR", "/run/clef/clef.ipc")
	t.Setenv("SHIPGATE_CLEF_BADEP", "https://op:hunter2hunter2@signer.internal/")
	t.Setenv("SHIPGATE_CLEF_ADDRESS_BADEP", addr)
	t.Setenv("SHIPGATE_CLEF_BADADDR", "/run/clef/clef.ipc")
	t.Setenv("SHIPGATE_CLEF_ADDRESS_BADADDR", "0x"+devHex)
	t.Setenv("SHIPGATE_CLEF_TWO", "/run/clef/clef.ipc")
	t.Setenv("SHIPGATE_KEYSTORE_TWO", "/x")
	for _, tc := range []struct{ name, want string }{
		{"noaddr", "the account variable SHIPGATE_CLEF_ADDRESS_NOADDR is not"},
		{"badep", "SHIPGATE_CLEF_BADEP: endpoint \"https://…@signer.internal/\": credentials in the URL are refused"},
		{"badaddr", "SHIPGATE_CLEF_ADDRESS_BADADDR: not a 0x-prefixed 20-byte hex address"},
		{"two", "SHIPGATE_KEYSTORE_TWO and SHIPGATE_CLEF_TWO are set: set one"},
		{"missing", "or SHIPGATE_CLEF_MISSING and SHIPGATE_CLEF_ADDRESS_MISSING"},
	} {
		_, err := LoadKeyFrom(tc.name, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), devHex[:16])) {
			t.Errorf("%s: error leaks a secret: %v", tc.name, err)
		}
	}
}

// editingSigner signs with a real key but first applies edit to the transaction, as Clef's
// user may before approving; or signs as another key.
type editingSigner struct {
	priv *ecdsa.PrivateKey
	edit func(*types.DynamicFeeTx)
}

func (s editingSigner) SignTx(_ context.Context, tx *types.Transaction, _ *big.Int) (*types.Transaction, error) {
	inner := &types.DynamicFeeTx{ChainID: tx.ChainId(), Nonce: tx.Nonce(), GasTipCap: tx.GasTipCap(), GasFeeCap: tx.GasFeeCap(),
		Gas: tx.Gas(), To: tx.To(), Value: tx.Value(), Data: tx.Data()}
	if s.edit != nil {
		s.edit(inner)
	}
	return types.SignNewTx(s.priv, types.LatestSignerForChainID(inner.ChainID), inner)
}

func (editingSigner) String() string { return "editing signer" }

// sign keeps only the transaction it asked for, signed by the key's account: an external
// signer (or its user) that changes any field, or signs as another account, is refused.
func TestSignRefusesAnEditedTransaction(t *testing.T) {
	priv, _ := crypto.HexToECDSA(devHex)
	other, _ := crypto.GenerateKey()
	addr := crypto.PubkeyToAddress(priv.PublicKey)
	to := common.HexToAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
	p := TxParams{ChainID: big.NewInt(1337), Nonce: 7, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2), Gas: 50_000}
	for _, tc := range []struct {
		name string
		s    editingSigner
		want string
	}{
		{"unchanged", editingSigner{priv: priv}, ""},
		{"gas", editingSigner{priv: priv, edit: func(tx *types.DynamicFeeTx) { tx.Gas = 60_000 }}, "gas 60000, asked 50000"},
		{"recipient", editingSigner{priv: priv, edit: func(tx *types.DynamicFeeTx) { tx.To = &addr }}, "recipient " + addr.Hex()},
		{"nonce", editingSigner{priv: priv, edit: func(tx *types.DynamicFeeTx) { tx.Nonce = 8 }}, "nonce 8, asked 7"},
		{"value", editingSigner{priv: priv, edit: func(tx *types.DynamicFeeTx) { tx.Value = big.NewInt(1) }}, "value 1, asked 0"},
		{"data", editingSigner{priv: priv, edit: func(tx *types.DynamicFeeTx) { tx.Data = []byte{1} }}, "data of 1 bytes"},
		{"fee", editingSigner{priv: priv, edit: func(tx *types.DynamicFeeTx) { tx.GasFeeCap = big.NewInt(3) }}, "fee cap 3, asked 2"},
		{"chain", editingSigner{priv: priv, edit: func(tx *types.DynamicFeeTx) { tx.ChainID = big.NewInt(1) }}, "chain id 1, asked 1337"},
		{"account", editingSigner{priv: other}, "signed by " + crypto.PubkeyToAddress(other.PublicKey).Hex()},
	} {
		key := NewSignerKey("edited", addr, tc.s)
		s, err := SignCall(context.Background(), key, p, to, nil)
		if tc.want == "" {
			if err != nil || s.From != addr || s.Nonce != 7 {
				t.Errorf("%s: %+v, %v", tc.name, s, err)
			}
			continue
		}
		if !errors.Is(err, ErrSignerMismatch) || !strings.Contains(err.Error(), tc.want) || s != nil {
			t.Errorf("%s: got %+v, %v; want %v with %q", tc.name, s, err, ErrSignerMismatch, tc.want)
		}
	}
}
