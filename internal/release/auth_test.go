package release_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack/people"
	"github.com/shipgate/shipgate/internal/release"
)

var keys people.Keyring

func anyType(release.CheckKind, string, map[string]string) error { return nil }

func enrolled(t testing.TB) *release.Policy {
	t.Helper()
	p, err := release.DefaultPolicy(anyType)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Enroll(p); err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	now  = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	bind = release.Binding{Release: "release/payments/2.0.0", Run: "run-1"}
)

func signed(t testing.TB, key, action string, cmd release.Command, b release.Binding, at time.Time) release.Command {
	t.Helper()
	if err := control.Sign(keys.MustSigner(key), action, &cmd, b, at); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestAuthenticate(t *testing.T) {
	p := enrolled(t)
	approve := release.Command{Actor: "bob", Channel: release.ChannelCLI, Check: "peer-review"}
	good := signed(t, "bob", release.SignalApprove, approve, bind, now)
	if m, err := p.Authenticate(release.SignalApprove, good, bind, now); err != nil || m.ID != "bob" {
		t.Fatalf("bob's own approval: %v %v", m, err)
	}
	// an alias of bob's (his email) signed with his key is bob
	alias := approve
	alias.Actor = "bob@example.com"
	if m, err := p.Authenticate(release.SignalApprove, signed(t, "bob", release.SignalApprove, alias, bind, now), bind, now); err != nil || m.ID != "bob" {
		t.Fatalf("bob by email: %v %v", m, err)
	}
	slack := release.Command{Actor: "U0BOB0005", Channel: release.ChannelSlack, Check: "peer-review"}
	if m, err := p.Authenticate(release.SignalApprove, signed(t, people.BridgeID, release.SignalApprove, slack, bind, now), bind, now); err != nil || m.ID != "bob" {
		t.Fatalf("bob in Slack through the bridge: %v %v", m, err)
	}
	tampered := good
	tampered.Check = "query-budget"
	otherChannel := signed(t, "bob", release.SignalApprove, slack, bind, now)
	unknownChannel := signed(t, "bob", release.SignalApprove, release.Command{Actor: "bob", Channel: "email"}, bind, now)
	wrongNS := good
	wrongNS.Signature = strings.Replace(good.Signature, "A", "B", 1)
	for _, c := range []struct {
		name, action string
		cmd          release.Command
		at           time.Time
		reason, says string
	}{
		{"unsigned", release.SignalApprove, approve, now, release.RefusedUnsigned, "not signed"},
		{"not an SSH signature", release.SignalApprove, func() release.Command {
			c := good
			c.Signature = "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"
			return c
		}(), now, release.RefusedMalformed, "not an armored SSH signature"},
		{"flipped bit", release.SignalApprove, wrongNS, now, "", ""},
		{"another member's key", release.SignalApprove, signed(t, "carol", release.SignalApprove, approve, bind, now), now, release.RefusedUnknownKey, "not one of bob's keys"},
		{"a key no one listed", release.SignalApprove, signed(t, "mallory", release.SignalApprove, approve, bind, now), now, release.RefusedUnknownKey, "not one of bob's keys"},
		{"not a member", release.SignalApprove, signed(t, "mallory", release.SignalApprove, release.Command{Actor: "mallory", Channel: release.ChannelCLI}, bind, now), now, release.RefusedUnknownActor, "not a member"},
		{"Slack without the bridge key", release.SignalApprove, otherChannel, now, release.RefusedChannel, "Slack-bridge key"},
		{"unknown channel", release.SignalApprove, unknownChannel, now, release.RefusedChannel, "unknown channel"},
		{"another action", release.SignalReject, good, now, release.RefusedBadSignature, "does not match"},
		{"another argument", release.SignalApprove, tampered, now, release.RefusedBadSignature, "does not match"},
		{"expired", release.SignalApprove, good, now.Add(release.CommandMaxAge + time.Second), release.RefusedExpired, "ago"},
		{"from the future", release.SignalApprove, good, now.Add(-release.CommandMaxSkew - time.Second), release.RefusedExpired, "in the future"},
		{"another release", release.SignalApprove, signed(t, "bob", release.SignalApprove, approve, release.Binding{Release: "release/payments/3.0.0", Run: "run-1"}, now), now, release.RefusedRetargeted, "not this one"},
		{"another run", release.SignalApprove, signed(t, "bob", release.SignalApprove, approve, release.Binding{Release: bind.Release, Run: "run-0"}, now), now, release.RefusedRetargeted, "not this one"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.Authenticate(c.action, c.cmd, bind, c.at)
			if err == nil {
				t.Fatal("accepted")
			}
			if c.reason != "" && (err.Reason != c.reason || !strings.Contains(err.Detail, c.says)) {
				t.Fatalf("got %s: %s; want %s: …%s…", err.Reason, err.Detail, c.reason, c.says)
			}
		})
	}
}

// The envelope is OpenSSH's: a signature made by `ssh-keygen -Y sign -n shipgate` over a
// command's Statement is accepted, and one of ours verifies with `ssh-keygen -Y verify`.
func TestSignaturesInteroperateWithSSHKeygen(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatal("ssh-keygen (openssh-client) is required: apt-get install openssh-client")
	}
	dir := t.TempDir()
	ring := &people.Keyring{Dir: dir}
	keyFile, err := ring.KeyFile("erin")
	if err != nil {
		t.Fatal(err)
	}
	p := enrolled(t)
	pub, _ := ring.AuthorizedKey("erin")
	for name, g := range p.Groups {
		for i := range g.Members {
			if g.Members[i].ID == "erin" {
				g.Members[i].SSHKeys = []string{pub}
			}
		}
		p.Groups[name] = g
	}
	cmd := release.Command{Actor: "erin", Channel: release.ChannelCLI, Check: "security-checklist", Comment: "checklist done",
		Release: bind.Release, Run: bind.Run, IssuedAt: now, Nonce: "0123456789abcdef"}
	msg := filepath.Join(dir, "statement")
	if err := os.WriteFile(msg, cmd.Statement(release.SignalApprove), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(keygen, "-Y", "sign", "-n", release.SignatureNamespace, "-f", keyFile, msg).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
	}
	sig, err := os.ReadFile(msg + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Signature = string(sig)
	if m, err := p.Authenticate(release.SignalApprove, cmd, bind, now); err != nil || m.ID != "erin" {
		t.Fatalf("ssh-keygen's signature: %v %v", m, err)
	}

	ours := release.Command{Actor: "erin", Channel: release.ChannelCLI, Check: "pen-test"}
	if err := control.Sign(ring.MustSigner("erin"), release.SignalApprove, &ours, bind, now); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(msg, ours.Statement(release.SignalApprove), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(msg+".sig", []byte(ours.Signature), 0o644); err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, []byte("erin "+pub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	verify := exec.Command(keygen, "-Y", "verify", "-f", allowed, "-I", "erin", "-n", release.SignatureNamespace, "-s", msg+".sig")
	verify.Stdin = bytes.NewReader(ours.Statement(release.SignalApprove))
	if out, err := verify.CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y verify of our signature: %v\n%s", err, out)
	}
}

func TestPolicyKeysAreValidated(t *testing.T) {
	pub, _ := keys.AuthorizedKey("shared")
	for _, c := range []struct{ edit, want string }{
		{"{id: bob, name: Bob, email: bob@example.com, slack: U0BOB0005, sshKeys: [\"ssh-ed25519 nope\"]}", "groups.reviewers.members[1].sshKeys[0]: is not a public key"},
		{"{id: bob, name: Bob, email: bob@example.com, slack: U0BOB0005, sshKeys: [\"" + pub + "\"]}", ""},
	} {
		src := strings.Replace(string(release.DefaultPolicyYAML()), "{id: bob, name: Bob, email: bob@example.com, slack: U0BOB0005}", c.edit, 1)
		if c.want == "" {
			// the same key under carol too: one key, one identity
			src = strings.Replace(src, "{id: carol, name: Carol, email: carol@example.com, slack: U0CAROL06}",
				"{id: carol, name: Carol, email: carol@example.com, slack: U0CAROL06, sshKeys: [\""+pub+"\"]}", 1)
			c.want = "already belongs to member bob"
		}
		_, err := release.ParsePolicy("policy.yaml", []byte(src), anyType)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("want %q, got %v", c.want, err)
		}
	}
	// a Slack-bridge key that is also a person's
	src := strings.Replace(string(release.DefaultPolicyYAML()), "{id: bob, name: Bob, email: bob@example.com, slack: U0BOB0005}",
		"{id: bob, name: Bob, email: bob@example.com, slack: U0BOB0005, sshKeys: [\""+pub+"\"]}", 1) + "slackBridgeKeys: [\"" + pub + "\"]\n"
	if _, err := release.ParsePolicy("policy.yaml", []byte(src), anyType); err == nil || !strings.Contains(err.Error(), "slackBridgeKeys[0]: key") {
		t.Fatalf("bridge key shared with bob: %v", err)
	}
}

// FuzzAuthenticate: whatever a caller puts in a command (signature bytes, fields, times), it
// never panics and never authenticates without a signature from a key of the policy.
func FuzzAuthenticate(f *testing.F) {
	p := enrolled(f)
	good := signed(f, "bob", release.SignalApprove, release.Command{Actor: "bob", Channel: release.ChannelCLI, Check: "peer-review"}, bind, now)
	f.Add(good.Signature, "bob", release.ChannelCLI, "peer-review", good.Nonce, int64(0))
	f.Add("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n", "U0BOB0005", release.ChannelSlack, "x", "n", int64(1))
	f.Add("", "", "", "", "", int64(-1))
	f.Fuzz(func(t *testing.T, sig, actor, channel, check, nonce string, shift int64) {
		cmd := good
		cmd.Signature, cmd.Actor, cmd.Channel, cmd.Check, cmd.Nonce = sig, actor, channel, check, nonce
		cmd.IssuedAt = now.Add(time.Duration(shift) * time.Second)
		m, err := p.Authenticate(release.SignalApprove, cmd, bind, now)
		if err == nil && (!bytes.Equal(cmd.Statement(release.SignalApprove), good.Statement(release.SignalApprove)) || m.ID != "bob") {
			t.Fatalf("authenticated %+v as %s", cmd, m.ID)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "refused: ") {
			t.Fatalf("error %q", err)
		}
	})
}
