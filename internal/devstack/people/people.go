// Package people gives the embedded stack's demo people, and the tests' people, SSH keys to
// sign their commands with: generated once, kept in a directory (or only in memory), and
// enrolled in the policies that name them; and wallets (Ethereum keys) for those who own the
// stack's Safe. It also holds the stack's Slack-bridge key. Never imported by product code:
// real people bring their own keys and the platform team lists them in the worker's policies.
package people

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"

	"github.com/shipgate/shipgate/internal/release"
)

// BridgeID is the key name of the Slack-bridge key the stack's worker signs clicks with.
const BridgeID = "slack-bridge"

// Keyring holds one ed25519 key per person id. With Dir set, keys live in Dir/<id> (OpenSSH
// private key, mode 0600) and Dir/<id>.pub, and are generated when missing.
type Keyring struct {
	Dir  string
	mu   sync.Mutex
	keys map[string]ssh.Signer
	// wallets are the people's Ethereum keys (Wallet)
	wallets map[string]*ecdsa.PrivateKey
}

// Signer returns id's key, generating it when it does not exist yet.
func (k *Keyring) Signer(id string) (ssh.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.keys[id]; ok {
		return s, nil
	}
	if k.keys == nil {
		k.keys = map[string]ssh.Signer{}
	}
	s, err := k.load(id)
	if err != nil {
		return nil, err
	}
	k.keys[id] = s
	return s, nil
}

// MustSigner is Signer for tests and the demo, where a key that cannot be made is fatal.
func (k *Keyring) MustSigner(id string) ssh.Signer {
	s, err := k.Signer(id)
	if err != nil {
		panic(err)
	}
	return s
}

// AuthorizedKey is id's public key as a policy lists it: "ssh-ed25519 AAAA… id".
func (k *Keyring) AuthorizedKey(id string) (string, error) {
	s, err := k.Signer(id)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey()))) + " " + id, nil
}

// KeyFile is the path of id's private key file (Dir must be set), made when missing.
func (k *Keyring) KeyFile(id string) (string, error) {
	if k.Dir == "" {
		return "", errors.New("people: a keyring without a directory has no key files")
	}
	if _, err := k.Signer(id); err != nil {
		return "", err
	}
	return filepath.Join(k.Dir, id), nil
}

func (k *Keyring) load(id string) (ssh.Signer, error) {
	if !release.ValidPolicyName(id) {
		return nil, fmt.Errorf("people: %q is not a usable key name", id)
	}
	if k.Dir != "" {
		data, err := os.ReadFile(filepath.Join(k.Dir, id))
		if err == nil {
			return ssh.ParsePrivateKey(data)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	if k.Dir == "" {
		return s, nil
	}
	block, err := ssh.MarshalPrivateKey(priv, id)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(k.Dir, id), pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey()))) + " " + id + "\n"
	return s, os.WriteFile(filepath.Join(k.Dir, id+".pub"), []byte(pub), 0o644)
}

// Enroll gives every member of p without a key of its own a key from the ring, and lists the
// ring's Slack-bridge key: the policy as the platform team would write it for these people.
func (k *Keyring) Enroll(p *release.Policy) error {
	for name, g := range p.Groups {
		for i, m := range g.Members {
			if len(m.SSHKeys) > 0 {
				continue
			}
			key, err := k.AuthorizedKey(m.ID)
			if err != nil {
				return err
			}
			g.Members[i].SSHKeys = []string{key}
		}
		p.Groups[name] = g
	}
	bridge, err := k.AuthorizedKey(BridgeID)
	if err != nil {
		return err
	}
	p.SlackBridgeKeys = append(p.SlackBridgeKeys, bridge)
	return nil
}

// RenderPolicies writes every policy file of src into dst with the ring's keys enrolled: each
// member who lists no sshKeys gets the ring's key for their id, and slackBridgeKeys gets the
// ring's bridge key. Members who list keys keep exactly theirs, so a person trying shipgate
// out registers their own key by adding it to their entry in src. Comments are kept.
func (k *Keyring) RenderPolicies(src, dst string) error {
	files, err := filepath.Glob(filepath.Join(src, "*.yaml"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		out, err := k.enrollYAML(data)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (k *Keyring) enrollYAML(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a policy document")
	}
	root := doc.Content[0]
	if groups := value(root, "groups"); groups != nil {
		for i := 1; i < len(groups.Content); i += 2 {
			members := value(groups.Content[i], "members")
			if members == nil {
				continue
			}
			for _, m := range members.Content {
				id := value(m, "id")
				if id == nil || value(m, "sshKeys") != nil {
					continue
				}
				key, err := k.AuthorizedKey(id.Value)
				if err != nil {
					return nil, err
				}
				m.Style = 0 // a flow mapping {id: …} becomes a block to hold the key
				m.Content = append(m.Content, scalar("sshKeys"), seq(key))
			}
		}
	}
	bridge, err := k.AuthorizedKey(BridgeID)
	if err != nil {
		return nil, err
	}
	if keys := value(root, "slackBridgeKeys"); keys != nil {
		keys.Content = append(keys.Content, scalar(bridge))
	} else {
		root.Content = append(root.Content, scalar("slackBridgeKeys"), seq(bridge))
	}
	return yaml.Marshal(&doc)
}

func value(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func seq(items ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, it := range items {
		n.Content = append(n.Content, scalar(it))
	}
	return n
}
