package chain

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/google/uuid"
)

const devHex = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"

func TestLoadKeyHex(t *testing.T) {
	t.Setenv("SHIPGATE_KEY_DEPLOYER_A", "0x"+devHex)
	k, err := LoadKey("deployer-a")
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := crypto.HexToECDSA(devHex)
	if k.Address != crypto.PubkeyToAddress(priv.PublicKey) {
		t.Fatalf("address %s", k.Address.Hex())
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		if s := fmt.Sprintf(verb, k); strings.Contains(strings.ToLower(s), devHex[:16]) || !strings.Contains(s, k.Address.Hex()) {
			t.Fatalf("%s prints %q", verb, s)
		}
	}
}

func TestLoadKeyKeystore(t *testing.T) {
	priv, _ := crypto.HexToECDSA(devHex)
	id, _ := uuid.NewRandom()
	blob, err := keystore.EncryptKey(&keystore.Key{Id: id, Address: crypto.PubkeyToAddress(priv.PublicKey), PrivateKey: priv}, "s3cret", keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(file, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SHIPGATE_KEYSTORE_PROD", file)
	t.Setenv("SHIPGATE_KEYSTORE_PASS_PROD", "s3cret")
	k, err := LoadKey("prod")
	if err != nil {
		t.Fatal(err)
	}
	if k.Address != crypto.PubkeyToAddress(priv.PublicKey) {
		t.Fatalf("address %s", k.Address.Hex())
	}
	t.Setenv("SHIPGATE_KEYSTORE_PASS_PROD", "wrong")
	if _, err := LoadKey("prod"); err == nil || !strings.Contains(err.Error(), "could not decrypt") {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

func TestLoadKeyErrors(t *testing.T) {
	t.Setenv("SHIPGATE_KEY_BAD", "zz"+devHex[2:])
	t.Setenv("SHIPGATE_KEYSTORE_NOPASS", "/nonexistent")
	t.Setenv("SHIPGATE_KEY_BOTH", devHex)
	t.Setenv("SHIPGATE_KEYSTORE_BOTH", "/x")
	cases := []struct{ name, want string }{
		{"bad", "is not a 32-byte hex secp256k1 private key"},
		{"nopass", "passphrase variable SHIPGATE_KEYSTORE_PASS_NOPASS is not"},
		{"both", "set one"},
		{"missing", "not configured: set SHIPGATE_KEYSTORE_MISSING"},
		{"../etc", "want letters, digits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadKey(tc.name)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), devHex[4:20]) {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}

// Outside development a raw hex key is refused, naming the keystore variables to use instead,
// and the refusal quotes nothing of the key.
func TestLoadKeyHexRefusedOutsideDev(t *testing.T) {
	t.Setenv("SHIPGATE_KEY_DEPLOYER_B", "0x"+devHex)
	_, err := LoadKeyFrom("deployer-b", false)
	if !errors.Is(err, ErrHexKeyRefused) || !strings.Contains(err.Error(), "SHIPGATE_KEYSTORE_DEPLOYER_B") || strings.Contains(err.Error(), devHex[:8]) {
		t.Fatalf("hex key outside dev: %v", err)
	}
	if _, err := LoadKeyFrom("deployer-b", true); err != nil {
		t.Fatalf("hex key in dev: %v", err)
	}
}
