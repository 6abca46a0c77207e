package people

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/crypto"
	"go.yaml.in/yaml/v3"

	"github.com/shipgate/shipgate/internal/release"
)

// Wallet returns id's Ethereum key, generating it when it does not exist yet: with Dir set it
// lives in Dir/<id>.wallet (hex, mode 0600), so a person who owns a Safe on the stack's
// chains keeps the same address across runs. It is the person's own wallet, apart from the
// SSH key they sign shipgate's commands with: a Safe owner approves on chain from it.
func (k *Keyring) Wallet(id string) (*ecdsa.PrivateKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if w, ok := k.wallets[id]; ok {
		return w, nil
	}
	if !release.ValidPolicyName(id) {
		return nil, fmt.Errorf("people: %q is not a usable key name", id)
	}
	var path string
	if k.Dir != "" {
		path = filepath.Join(k.Dir, id+".wallet")
		w, err := crypto.LoadECDSA(path)
		if err == nil {
			return k.keepWallet(id, w), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			// LoadECDSA's errors never quote the key's bytes
			return nil, fmt.Errorf("people: wallet of %s: %w", id, err)
		}
	}
	w, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	if path != "" {
		if err := os.MkdirAll(k.Dir, 0o700); err != nil {
			return nil, err
		}
		if err := crypto.SaveECDSA(path, w); err != nil {
			return nil, fmt.Errorf("people: wallet of %s: %w", id, err)
		}
	}
	return k.keepWallet(id, w), nil
}

func (k *Keyring) keepWallet(id string, w *ecdsa.PrivateKey) *ecdsa.PrivateKey {
	if k.wallets == nil {
		k.wallets = map[string]*ecdsa.PrivateKey{}
	}
	k.wallets[id] = w
	return w
}

// GovernPolicies gives every chain with chainID in the policy files of dir (a worker's copy,
// as RenderPolicies writes it) the governance g, unless the chain names a governance of its
// own. A stack deploys its own Safe and timelock, so their addresses, like its people's keys,
// are the stack's: they go into the worker's copy of the policy, the file its operator owns,
// and never into a manifest. It returns the files it changed.
func GovernPolicies(dir string, chainID uint64, g release.Governance) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var gov yaml.Node
	if err := gov.Encode(g); err != nil {
		return nil, err
	}
	gov.Style = yaml.FlowStyle
	var changed []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return changed, err
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return changed, fmt.Errorf("%s: %w", f, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		n := 0
		if chains := value(doc.Content[0], "chains"); chains != nil {
			for _, c := range chains.Content {
				id := value(c, "chainId")
				if id == nil || id.Value != fmt.Sprint(chainID) || value(c, "governance") != nil {
					continue
				}
				c.Content = append(c.Content, scalar("governance"), &gov)
				n++
			}
		}
		if n == 0 {
			continue
		}
		out, err := yaml.Marshal(&doc)
		if err != nil {
			return changed, err
		}
		if err := os.WriteFile(f, out, 0o644); err != nil {
			return changed, err
		}
		changed = append(changed, f)
	}
	return changed, nil
}
