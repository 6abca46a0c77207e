package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// Who acts is proven, not claimed (DESIGN.md §5a). Every command carries an SSH signature in
// the `ssh-keygen -Y sign` format (namespace "shipgate") over its Statement: the release, the
// run, the action and every argument, an issue time and a nonce. The workflow verifies it
// against the keys of its own policy before it acts: a CLI command against the keys of the
// member it names, a Slack click against the Slack-bridge keys of the workers that verified
// Slack's request signature. Temporal access alone acts as no one.
const (
	// SignatureNamespace keeps a shipgate signature from being valid for anything else
	// (git commits, files) and the other way round.
	SignatureNamespace = "shipgate"
	// CommandMaxAge is how long a signed command may travel; older ones are refused, so the
	// workflow needs to remember nonces for only this long.
	CommandMaxAge = 5 * time.Minute
	// CommandMaxSkew is how far in the future a command's issue time may lie (clock skew).
	CommandMaxSkew = time.Minute
	// ActionStart is the action a release's start command is signed for.
	ActionStart = "start"

	statementVersion = "shipgate-command/1"
	maxNonceLen      = 64
	maxSignatureLen  = 16 << 10
	// MaxCommandBytes bounds a command's statement: a reason or a title is a few lines, and a
	// forged command must not carry megabytes into the release's history and audit log.
	MaxCommandBytes = 8 << 10
)

// Refusal reasons of authentication: the label values of
// shipgate_commands_refused_total{reason}.
const (
	RefusedUnsigned     = "unsigned"
	RefusedMalformed    = "malformed"
	RefusedUnknownActor = "unknown-actor"
	RefusedUnknownKey   = "unknown-key"
	RefusedBadSignature = "bad-signature"
	RefusedExpired      = "expired"
	RefusedRetargeted   = "retargeted"
	RefusedReplayed     = "replayed"
	RefusedChannel      = "channel"
	// RefusedDenied: the sender is proven, but the release's rules say no.
	RefusedDenied = "denied"
)

// AuthError says why a command was not authenticated; Reason is a Refused* constant.
type AuthError struct {
	Reason string
	Detail string
}

func (e *AuthError) Error() string { return "refused: " + e.Detail }

func refuse(reason, format string, args ...any) *AuthError {
	return &AuthError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Binding is what a command must be addressed to: a release and one run of it.
type Binding struct {
	Release string
	Run     string
}

// Statement is the exact bytes a command's signature covers: the action and every field of
// the command but the signature itself, in a fixed order.
func (c Command) Statement(action string) []byte {
	c.Signature = ""
	b, _ := json.Marshal(struct {
		V       string  `json:"v"`
		Action  string  `json:"action"`
		Command Command `json:"command"`
	}{statementVersion, action, c})
	return b
}

// Authenticate verifies a command's signature and addressing and returns the member who sent
// it. It checks everything but the nonce, which only the receiver's memory can: the caller
// refuses a nonce it has seen within CommandMaxAge.
func (p *Policy) Authenticate(action string, c Command, b Binding, now time.Time) (Member, *AuthError) {
	if n := len(c.Statement(action)); n > MaxCommandBytes {
		return Member{}, refuse(RefusedMalformed, "the command is %d bytes, more than %d", n, MaxCommandBytes)
	}
	if c.Signature == "" {
		return Member{}, refuse(RefusedUnsigned, "the command is not signed (the CLI signs with --key or ssh-agent)")
	}
	if len(c.Signature) > maxSignatureLen {
		return Member{}, refuse(RefusedMalformed, "the signature is %d bytes, more than %d", len(c.Signature), maxSignatureLen)
	}
	sig, err := sshsig.Unarmor([]byte(c.Signature))
	if err != nil {
		return Member{}, refuse(RefusedMalformed, "the signature is not an armored SSH signature")
	}
	if sig.Namespace != SignatureNamespace {
		return Member{}, refuse(RefusedMalformed, "the signature is for namespace %q, not %q", sig.Namespace, SignatureNamespace)
	}
	if err := sig.HashAlgorithm.Available(); err != nil {
		return Member{}, refuse(RefusedMalformed, "the signature's hash algorithm is not supported")
	}
	if c.Release != b.Release || (action != ActionStart && c.Run != b.Run) {
		return Member{}, refuse(RefusedRetargeted, "the command was signed for release %q run %q, not this one", c.Release, c.Run)
	}
	if c.IssuedAt.IsZero() || now.Sub(c.IssuedAt) > CommandMaxAge {
		return Member{}, refuse(RefusedExpired, "the command was issued at %s, more than %s ago", c.IssuedAt.UTC().Format(time.RFC3339), CommandMaxAge)
	}
	if c.IssuedAt.Sub(now) > CommandMaxSkew {
		return Member{}, refuse(RefusedExpired, "the command was issued at %s, in the future (check the sender's clock)", c.IssuedAt.UTC().Format(time.RFC3339))
	}
	if c.Nonce == "" || len(c.Nonce) > maxNonceLen {
		return Member{}, refuse(RefusedMalformed, "the command needs a nonce of 1 to %d characters", maxNonceLen)
	}
	m, known := p.Resolve(c.Actor)
	var keys []string
	switch c.Channel {
	case ChannelCLI:
		keys = m.SSHKeys
	case ChannelSlack:
		keys = p.SlackBridgeKeys
	default:
		return Member{}, refuse(RefusedChannel, "unknown channel %q", c.Channel)
	}
	if !known {
		return Member{}, refuse(RefusedUnknownActor, "%q is not a member of the release's policy", c.Actor)
	}
	if !keyListed(keys, sig.PublicKey) {
		if c.Channel == ChannelSlack {
			return Member{}, refuse(RefusedChannel, "a Slack decision must be signed by a Slack-bridge key the policy names (key %s is not one)", ssh.FingerprintSHA256(sig.PublicKey))
		}
		return Member{}, refuse(RefusedUnknownKey, "key %s is not one of %s's keys in the policy", ssh.FingerprintSHA256(sig.PublicKey), m.ID)
	}
	if err := sshsig.Verify(bytes.NewReader(c.Statement(action)), sig, sig.PublicKey, sig.HashAlgorithm, SignatureNamespace); err != nil {
		return Member{}, refuse(RefusedBadSignature, "the signature does not match the command")
	}
	return m, nil
}

// keyListed reports whether pub is one of the authorized_keys lines.
func keyListed(lines []string, pub ssh.PublicKey) bool {
	want := pub.Marshal()
	for _, l := range lines {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l))
		if err == nil && bytes.Equal(k.Marshal(), want) {
			return true
		}
	}
	return false
}

// allowedKeyTypes are the public key types a policy may list: current OpenSSH key types,
// hardware-backed (FIDO) ones included; DSA is not among them.
var allowedKeyTypes = map[string]bool{
	ssh.KeyAlgoED25519: true, ssh.KeyAlgoSKED25519: true, ssh.KeyAlgoRSA: true,
	ssh.KeyAlgoECDSA256: true, ssh.KeyAlgoECDSA384: true, ssh.KeyAlgoECDSA521: true, ssh.KeyAlgoSKECDSA256: true,
}

// minRSABits is the smallest RSA modulus accepted for a signing key.
const minRSABits = 2048

// validateKeys checks every member key and Slack-bridge key: each parses, is of a current
// type, and belongs to one identity only. A key listed under two members would let one
// person act as two, defeating the author rule and the two-person rules.
func (p *Policy) validateKeys(v *validator) {
	owner := map[string]string{}
	check := func(field, line, who string) {
		k, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(line))
		switch {
		case err != nil:
			v.addf(field, "is not a public key in authorized_keys form (ssh-ed25519 AAAA… comment)")
			return
		case len(bytes.TrimSpace(rest)) > 0:
			v.addf(field, "holds more than one key: list each key separately")
			return
		case !allowedKeyTypes[k.Type()]:
			v.addf(field, "key type %s is not accepted (want ed25519, ecdsa, rsa or their security-key forms)", k.Type())
			return
		}
		if ck, ok := k.(ssh.CryptoPublicKey); ok && k.Type() == ssh.KeyAlgoRSA {
			if rk, ok := ck.CryptoPublicKey().(interface{ Size() int }); ok && rk.Size()*8 < minRSABits {
				v.addf(field, "RSA key of %d bits: at least %d are required", rk.Size()*8, minRSABits)
			}
		}
		fp := ssh.FingerprintSHA256(k)
		if prev, ok := owner[fp]; ok && prev != who {
			v.addf(field, "key %s already belongs to %s: one key, one identity", fp, prev)
		}
		owner[fp] = who
	}
	for _, name := range slices.Sorted(maps.Keys(p.Groups)) {
		for i, m := range p.Groups[name].Members {
			for j, k := range m.SSHKeys {
				check(fmt.Sprintf("groups.%s.members[%d].sshKeys[%d]", name, i, j), k, "member "+m.ID)
			}
		}
	}
	for i, k := range p.SlackBridgeKeys {
		check(fmt.Sprintf("slackBridgeKeys[%d]", i), k, "the Slack bridge")
	}
}

// MayStart reports whether the member may start a release under this policy: a member of a
// starters group, or, when the policy names none, a release manager.
func (p *Policy) MayStart(id string) bool {
	groups := p.Roles.Starters
	if len(groups) == 0 {
		groups = []string{p.Roles.ReleaseManagers}
	}
	for _, g := range groups {
		if p.InGroup(g, id) {
			return true
		}
	}
	return false
}

// ValidateInput is the validation the workflow runs on its own input, the same the starter
// runs on the files: the manifest alone, then against the policy the worker handed out.
func ValidateInput(m *Manifest, p *Policy) error {
	v := &validator{file: "workflow input manifest"}
	m.validate(v)
	if err := v.err(); err != nil {
		return err
	}
	return ValidateRelease("workflow input manifest", m, p)
}

// ManifestDigest is the sha256 of the manifest's canonical JSON: a start command signs it, so
// a signed start cannot be reused for another manifest.
func ManifestDigest(m *Manifest) string {
	return digestJSON(m)
}
