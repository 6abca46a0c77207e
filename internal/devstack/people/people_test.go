package people

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipgate/shipgate/internal/release"
)

func anyType(release.CheckKind, string, map[string]string) error { return nil }

// Rendering enrolls a key for every member without one, keeps the keys a person registered,
// adds the bridge key, and the result is a valid policy whose keys are the ring's.
func TestRenderPolicies(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	own := &Keyring{}
	bobKey, _ := own.AuthorizedKey("bob")
	text := strings.Replace(string(release.DefaultPolicyYAML()), "{id: bob, name: Bob, email: bob@example.com, slack: U0BOB0005}",
		"{id: bob, name: Bob, email: bob@example.com, slack: U0BOB0005, sshKeys: [\""+bobKey+"\"]}", 1)
	if err := os.WriteFile(filepath.Join(src, "seed.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ring := &Keyring{Dir: t.TempDir()}
	if err := ring.RenderPolicies(src, dst); err != nil {
		t.Fatal(err)
	}
	p, err := release.LoadPolicy(filepath.Join(dst, "seed.yaml"), anyType)
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := p.Resolve("bob")
	if len(bob.SSHKeys) != 1 || bob.SSHKeys[0] != bobKey {
		t.Fatalf("bob's own key was not kept: %v", bob.SSHKeys)
	}
	carol, _ := p.Resolve("carol")
	want, _ := ring.AuthorizedKey("carol")
	if len(carol.SSHKeys) != 1 || carol.SSHKeys[0] != want {
		t.Fatalf("carol's key %v, want the ring's %s", carol.SSHKeys, want)
	}
	bridge, _ := ring.AuthorizedKey(BridgeID)
	if len(p.SlackBridgeKeys) != 1 || p.SlackBridgeKeys[0] != bridge {
		t.Fatalf("bridge keys %v", p.SlackBridgeKeys)
	}
	// keys persist: a second ring on the same directory has the same keys, private files 0600
	again := &Keyring{Dir: ring.Dir}
	if k, _ := again.AuthorizedKey("carol"); k != want {
		t.Fatal("the key changed across keyrings on one directory")
	}
	fi, err := os.Stat(filepath.Join(ring.Dir, "carol"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file mode %v %v", fi.Mode(), err)
	}
}
