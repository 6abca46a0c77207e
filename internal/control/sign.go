package control

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/shipgate/shipgate/internal/release"
)

// EnvKey names the key the CLI signs commands with: a private key file (unencrypted), or a
// public key file whose private half ssh-agent holds. Without it the CLI uses ssh-agent's
// only key.
const EnvKey = "SHIPGATE_SSH_KEY"

// Sign makes cmd a signed command for action on the release run b: it sets the addressing,
// the issue time and a fresh nonce, and signs the command's Statement with signer in the
// `ssh-keygen -Y sign -n shipgate` format.
func Sign(signer ssh.Signer, action string, cmd *release.Command, b release.Binding, now time.Time) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	cmd.Release, cmd.Run = b.Release, b.Run
	cmd.IssuedAt = now.UTC().Truncate(time.Millisecond)
	cmd.Nonce = hex.EncodeToString(nonce)
	cmd.Signature = ""
	sig, err := sshsig.Sign(bytes.NewReader(cmd.Statement(action)), signer, sshsig.HashSHA512, release.SignatureNamespace)
	if err != nil {
		return fmt.Errorf("signing %s: %w", action, err)
	}
	cmd.Signature = string(sshsig.Armor(sig))
	return nil
}

// LoadSigner finds the key to sign with: keyPath (a private key file, or a public key file
// naming one of ssh-agent's keys), or else ssh-agent's only key.
func LoadSigner(keyPath string) (ssh.Signer, error) {
	var want ssh.PublicKey
	if keyPath != "" {
		data, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		if pub, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
			want = pub
		} else {
			s, err := ssh.ParsePrivateKey(data)
			var pass *ssh.PassphraseMissingError
			if errors.As(err, &pass) {
				return nil, fmt.Errorf("signing key %s is protected by a passphrase: add it to ssh-agent (ssh-add) and name its .pub file", keyPath)
			}
			if err != nil {
				return nil, fmt.Errorf("signing key %s is neither an OpenSSH private key nor a public key", keyPath)
			}
			return s, nil
		}
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, fmt.Errorf("no signing key: set --key or %s to your key file, or run ssh-agent", EnvKey)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("ssh-agent: %w", err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		return nil, fmt.Errorf("ssh-agent: %w", err)
	}
	if want != nil {
		for _, s := range signers {
			if bytes.Equal(s.PublicKey().Marshal(), want.Marshal()) {
				return s, nil
			}
		}
		return nil, fmt.Errorf("ssh-agent does not hold the key of %s (%s)", keyPath, ssh.FingerprintSHA256(want))
	}
	switch len(signers) {
	case 0:
		return nil, errors.New("ssh-agent holds no key: ssh-add yours, or set --key")
	case 1:
		return signers[0], nil
	}
	var fps []string
	for _, s := range signers {
		fps = append(fps, ssh.FingerprintSHA256(s.PublicKey()))
	}
	return nil, fmt.Errorf("ssh-agent holds %d keys (%s): name yours with --key FILE.pub or %s", len(signers), strings.Join(fps, ", "), EnvKey)
}
