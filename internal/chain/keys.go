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

// Key is a signing account loaded by name on the worker: its address and the Signer that signs
// for it, in process or in Clef. A private part never leaves this package: every fmt verb
// prints only the name, address and where it signs, so it cannot end up in a log.
type Key struct {
	Name    string
	Address common.Address
	signer  Signer
}

// String prints the name and address, and for an external signer where it is.
func (k *Key) String() string {
	if _, local := k.signer.(localSigner); local || k.signer == nil {
		return fmt.Sprintf("key %s (%s)", k.Name, k.Address.Hex())
	}
	return fmt.Sprintf("key %s (%s) via %s", k.Name, k.Address.Hex(), k.signer)
}

// Format makes %v, %+v, %#v, %s all print String(): never the private key.
func (k *Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// NewKey wraps a private key (tests and callers that hold one already).
func NewKey(name string, priv *ecdsa.PrivateKey) *Key {
	return &Key{Name: name, Address: crypto.PubkeyToAddress(priv.PublicKey), signer: localSigner{priv}}
}

// NewSignerKey is the key called name whose transactions s signs as address: every
// transaction s returns is checked to be the one asked for, signed by address.
func NewSignerKey(name string, address common.Address, s Signer) *Key {
	return &Key{Name: name, Address: address, signer: s}
}

// SignHash signs a 32-byte hash (an EIP-712 digest such as a Safe's safeTxHash) and returns
// the 65-byte signature r ‖ s ‖ v with v 27 or 28, the form the Safe checks. Only a key held
// in this process (a keystore file, or a dev hex key) signs a bare hash; Clef signs typed
// data through its own API and is not used for it.
func (k *Key) SignHash(hash [32]byte) ([]byte, error) {
	if k == nil {
		return nil, errors.New("sign: no key")
	}
	ls, ok := k.signer.(localSigner)
	if !ok || ls.priv == nil {
		return nil, fmt.Errorf("sign with %s: only a keystore file's key signs a hash here", k)
	}
	sig, err := crypto.Sign(hash[:], ls.priv)
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
	EnvClef         = "SHIPGATE_CLEF_"          // Clef's external API: IPC socket path or http(s) URL
	EnvClefAddress  = "SHIPGATE_CLEF_ADDRESS_"  // the account Clef signs with for this key
)

// LoadKey loads the key called name from the worker's environment: SHIPGATE_KEYSTORE_<NAME>
// (a keystore file) with SHIPGATE_KEYSTORE_PASS_<NAME>; or SHIPGATE_CLEF_<NAME> (Clef's
// endpoint) with SHIPGATE_CLEF_ADDRESS_<NAME> (the account it signs with); or, for
// development, a hex private key in SHIPGATE_KEY_<NAME>. Errors never include key material.
func LoadKey(name string) (*Key, error) {
	return LoadKeyFrom(name, true)
}

// ErrHexKeyRefused: a raw hex key is configured where only a keystore is accepted.
var ErrHexKeyRefused = errors.New("a raw hex private key is accepted only for development chains")

// LoadKeyFrom is LoadKey with the raw hex form allowed or not: a worker passes false unless its
// operator runs dev policies, and always for a known mainnet or a governed chain, so a
// production key is a keystore file (encrypted at rest) or held by Clef, never a string in the
// environment.
func LoadKeyFrom(name string, allowHex bool) (*Key, error) {
	env := strings.ReplaceAll(strings.ToUpper(name), "-", "_")
	if !keyName.MatchString(env) {
		return nil, fmt.Errorf("key name %q: want letters, digits, '_' or '-' (1-64)", name)
	}
	hexKey, hasHex := os.LookupEnv(EnvKeyHex + env)
	file, hasFile := os.LookupEnv(EnvKeystoreFile + env)
	endpoint, hasClef := os.LookupEnv(EnvClef + env)
	var set []string
	for _, v := range []struct {
		name string
		set  bool
	}{{EnvKeyHex + env, hasHex}, {EnvKeystoreFile + env, hasFile}, {EnvClef + env, hasClef}} {
		if v.set {
			set = append(set, v.name)
		}
	}
	switch {
	case len(set) > 1:
		return nil, fmt.Errorf("key %s: %s are set: set one", name, strings.Join(set, " and "))
	case hasClef:
		// Clef is accepted on every chain: the key stays in the signer, which asks its own
		// user or rules to approve each transaction.
		addr, ok := os.LookupEnv(EnvClefAddress + env)
		if !ok {
			return nil, fmt.Errorf("key %s: %s%s is set but the account variable %s%s is not", name, EnvClef, env, EnvClefAddress, env)
		}
		s, err := NewClefSigner(name, endpoint, addr)
		if err != nil {
			return nil, err
		}
		return NewSignerKey(name, s.Address, s), nil
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
		return nil, fmt.Errorf("key %s: %s%s is set: %w; use %s%s with %s%s, or Clef (%s%s with %s%s)", name, EnvKeyHex, env, ErrHexKeyRefused, EnvKeystoreFile, env, EnvKeystorePass, env, EnvClef, env, EnvClefAddress, env)
	case hasHex:
		priv, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimSpace(hexKey), "0x"))
		if err != nil {
			// The crypto error can quote the input; say only what is wrong.
			return nil, fmt.Errorf("key %s: %s%s is not a 32-byte hex secp256k1 private key", name, EnvKeyHex, env)
		}
		return NewKey(name, priv), nil
	}
	return nil, fmt.Errorf("key %s: not configured: set %s%s and %s%s, or %s%s and %s%s, on the worker (or %s%s for development)",
		name, EnvKeystoreFile, env, EnvKeystorePass, env, EnvClef, env, EnvClefAddress, env, EnvKeyHex, env)
}
