package policies

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipgate/shipgate/internal/release"
)

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStore(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	demo, err := os.ReadFile(filepath.Join(root, "deployments", "policies", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write(t, dir, "demo.yaml", string(demo))
	write(t, dir, "seed.yaml", string(release.DefaultPolicyYAML()))
	write(t, dir, "weak.yaml", strings.Replace(string(release.DefaultPolicyYAML()), "testnetSoak: 14d", "testnetSoak: 1h", 1))
	write(t, dir, "notes.txt", "not a policy")

	s := &Store{Dir: dir}
	if got := strings.Join(s.Names(), ","); got != "demo,seed,weak" {
		t.Fatalf("names %s", got)
	}
	if r, err := s.Get("seed"); err != nil || r.Name != "seed" || r.Digest != r.Policy.Digest() {
		t.Fatalf("seed: %+v %v", r.Name, err)
	}
	for _, c := range []struct{ name, want string }{
		{"demo", "has profile dev, which this worker does not run (its operator allows it with SHIPGATE_ALLOW_DEV_POLICIES=true)"},
		{"weak", "weak.yaml:"},
		{"missing", `no policy "missing" on this worker (have: demo, seed, weak)`},
		{"../seed", "a name on the worker, not a path"},
		{"/etc/passwd", "a name on the worker, not a path"},
		{"Seed", "a name on the worker, not a path"},
	} {
		if _, err := s.Get(c.name); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want %q, got %v", c.name, c.want, err)
		}
	}
	if err := s.CheckAll(); err == nil || !strings.Contains(err.Error(), "demo") || !strings.Contains(err.Error(), "weak.yaml") {
		t.Fatalf("CheckAll: %v", err)
	}
	s.AllowDev = true
	if _, err := s.Get("demo"); err != nil {
		t.Fatalf("demo with dev allowed: %v", err)
	}

	// no directory: the seed, as "default", and nothing else
	bare := &Store{}
	if _, err := bare.Get(release.DefaultPolicyName); err != nil {
		t.Fatal(err)
	}
	if _, err := bare.Get("demo"); err == nil || !strings.Contains(err.Error(), "no policy directory") {
		t.Fatalf("bare store: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{EnvDir: "/srv/policies", EnvAllowDev: "true"}
	s, err := FromEnv(func(k string) string { return env[k] })
	if err != nil || s.Dir != "/srv/policies" || !s.AllowDev {
		t.Fatalf("%+v %v", s, err)
	}
	env[EnvAllowDev] = "yes please"
	if _, err := FromEnv(func(k string) string { return env[k] }); err == nil {
		t.Fatal("a malformed allow-dev accepted")
	}
}
