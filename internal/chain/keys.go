package chain

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Key is a signing key loaded by name on the worker. Its private part never leaves this
// package: every fmt verb prints only the name and address, so it cannot end up in a log.
type Key struct {
	Name    string
	Address common.Address
	priv    *ecdsa.PrivateKey
}

// String prints the name and address only.
func (k *Key) String() string { return fmt.Sprintf("key %s (%s)", k.Name, k.Address.Hex()) }

// Format makes %v, %+v, %#v, %s all print String(): never the private key.
func (k *Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// NewKey wraps a private key (tests and callers that hold one already).
func NewKey(name string, priv *ecdsa.PrivateKey) *Key {
	return &Key{Name: name, Address: crypto.PubkeyToAddress(priv.PublicKey), priv: priv}
}

// SignHash signs a 32-byte hash (an EIP-712 digest such as a Safe's safeTxHash) and returns
// the 65-byte signature r ‖ s ‖ v with v 27 or 28, the form the Safe checks.
func (k *Key) SignHash(hash [32]byte) ([]byte, error) {
	if k == nil || k.priv == nil {
		return nil, errors.New("sign: no private key")
	}
	sig, err := crypto.Sign(hash[:], k.priv)
	if err != nil {
		return nil, err
	}
	sig[64] += 27
	return sig, nil
}

var keyName = regexp.MustCompile(`^[A-Z0-9_]{1,64}$`)

// Environment variable prefixes of LoadKey. <NAME> is the key name upper-cased, '-' as '_'.
const (
	EnvKeyHex       = "SHIPGATE_KEY_"           // hex private key: development only
	EnvKeystoreFile = "SHIPGATE_KEYSTORE_"      // path to a go-ethereum keystore (V3) file
	EnvKeystorePass = "SHIPGATE_KEYSTORE_PASS_" // passphrase for that file
)

// LoadKey loads the key called name from the worker's environment: either
// SHIPGATE_KEYSTORE_<NAME> (a keystore file) with SHIPGATE_KEYSTORE_PASS_<NAME>, or, for
// development, a hex private key in SHIPGATE_KEY_<NAME>. Errors never include key material.
func LoadKey(name string) (*Key, error) {
	return LoadKeyFrom(name, true)
}

// ErrHexKeyRefused: a raw hex key is configured where only a keystore is accepted.
var ErrHexKeyRefused = errors.New("a raw hex private key is accepted only for development chains")

// LoadKeyFrom is LoadKey with the raw hex form allowed or not: a worker passes false unless its
// operator runs dev policies, and always for a known mainnet or a governed chain, so a
// production key is a keystore file (encrypted at rest), never a string in the environment.
func LoadKeyFrom(name string, allowHex bool) (*Key, error) {
	env := strings.ReplaceAll(strings.ToUpper(name), "-", "_")
	if !keyName.MatchString(env) {
		return nil, fmt.Errorf("key name %q: want letters, digits, '_' or '-' (1-64)", name)
	}
	hexKey, hasHex := os.LookupEnv(EnvKeyHex + env)
	file, hasFile := os.LookupEnv(EnvKeystoreFile + env)
	switch {
	case hasHex && hasFile:
		return nil, fmt.Errorf("key %s: both %s%s and %s%s are set; set one", name, EnvKeyHex, env, EnvKeystoreFile, env)
	case hasFile:
		pass, ok := os.LookupEnv(EnvKeystorePass + env)
		if !ok {
			return nil, fmt.Errorf("key %s: %s%s is set but the passphrase variable %s%s is not", name, EnvKeystoreFile, env, EnvKeystorePass, env)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("key %s: keystore file: %w", name, err)
		}
		k, err := keystore.DecryptKey(data, pass)
		if err != nil {
			return nil, fmt.Errorf("key %s: keystore file %s: %v", name, file, err)
		}
		return NewKey(name, k.PrivateKey), nil
	case hasHex && !allowHex:
		return nil, fmt.Errorf("key %s: %s%s is set: %w; use %s%s with %s%s", name, EnvKeyHex, env, ErrHexKeyRefused, EnvKeystoreFile, env, EnvKeystorePass, env)
	case hasHex:
		priv, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimSpace(hexKey), "0x"))
		if err != nil {
			// The crypto error can quote the input; say only what is wrong.
			return nil, fmt.Errorf("key %s: %s%s is not a 32-byte hex secp256k1 private key", name, EnvKeyHex, env)
		}
		return NewKey(name, priv), nil
	}
	return nil, fmt.Errorf("key %s: not configured: set %s%s and %s%s on the worker (or %s%s for development)", name, EnvKeystoreFile, env, EnvKeystorePass, env, EnvKeyHex, env)
}
