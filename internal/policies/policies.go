// Package policies is the worker's side of platform-owned policies: the directory of policy
// files the worker's operator configures, each loaded by name, validated with the check
// catalogue, and refused when its profile is dev on a worker that does not allow dev policies.
// A release names a policy; it can never hand one in.
package policies

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/shipgate/shipgate/internal/checks"
	"github.com/shipgate/shipgate/internal/release"
)

// Environment variables the worker's operator sets.
const (
	// EnvDir is the directory of policy files: NAME.yaml is the policy NAME.
	EnvDir = "SHIPGATE_POLICY_DIR"
	// EnvAllowDev allows policies of profile dev (short windows, local chains) when "true".
	EnvAllowDev = "SHIPGATE_ALLOW_DEV_POLICIES"
)

// Store serves the policies of one directory. With no directory it serves only the built-in
// seed policy, as "default".
type Store struct {
	Dir      string
	AllowDev bool
}

// FromEnv configures a store from the worker's environment.
func FromEnv(getenv func(string) string) (*Store, error) {
	s := &Store{Dir: getenv(EnvDir)}
	switch v := getenv(EnvAllowDev); v {
	case "", "false", "0":
	case "true", "1":
		s.AllowDev = true
	default:
		return nil, fmt.Errorf("%s must be true or false (got %q)", EnvAllowDev, v)
	}
	return s, nil
}

// Get loads and validates the policy name. Every call reads the file again, so the platform
// team's edits apply to the next release; a running release keeps the copy it recorded.
func (s *Store) Get(name string) (release.PolicyResult, error) {
	if !release.ValidPolicyName(name) {
		return release.PolicyResult{}, fmt.Errorf("policy name %q: want lower-case letters, digits and dashes (a name on the worker, not a path)", name)
	}
	var (
		p   *release.Policy
		err error
	)
	if s.Dir == "" {
		if name != release.DefaultPolicyName {
			return release.PolicyResult{}, fmt.Errorf("no policy %q: this worker has no policy directory (%s) and serves only %q", name, EnvDir, release.DefaultPolicyName)
		}
		p, err = release.DefaultPolicy(checks.Validate)
	} else {
		path := filepath.Join(s.Dir, name+".yaml")
		p, err = release.LoadPolicy(path, checks.Validate)
		if errors.Is(err, fs.ErrNotExist) {
			return release.PolicyResult{}, fmt.Errorf("no policy %q on this worker (have: %s)", name, strings.Join(s.Names(), ", "))
		}
	}
	if err != nil {
		return release.PolicyResult{}, err
	}
	if p.Profile == release.ProfileDev && !s.AllowDev {
		return release.PolicyResult{}, fmt.Errorf("policy %q has profile dev, which this worker does not run (its operator allows it with %s=true)", name, EnvAllowDev)
	}
	return release.PolicyResult{Name: name, Policy: *p, Digest: p.Digest()}, nil
}

// Names lists the policies the store serves, sorted.
func (s *Store) Names() []string {
	if s.Dir == "" {
		return []string{release.DefaultPolicyName}
	}
	files, _ := filepath.Glob(filepath.Join(s.Dir, "*.yaml"))
	var out []string
	for _, f := range files {
		if n := release.PolicyNameOf(f); release.ValidPolicyName(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// CheckAll loads every policy once, so that a worker with a broken policy file says so when
// it starts rather than when a release names it. Dev policies on a worker that refuses them
// are reported too.
func (s *Store) CheckAll() error {
	if s.Dir != "" {
		if _, err := os.Stat(s.Dir); err != nil {
			return fmt.Errorf("%s: %w", EnvDir, err)
		}
	}
	var errs []error
	for _, n := range s.Names() {
		if _, err := s.Get(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
