package release

import (
	"os"
	"path/filepath"
	"strings"
)

// CheckTypes validates the type and params of automated checks; the catalogue of types lives
// with the code that evaluates them, so an unknown type can never pass silently.
type CheckTypes func(kind CheckKind, typ string, params map[string]string) error

// LoadPolicy reads, strictly decodes and validates a policy file.
func LoadPolicy(path string, types CheckTypes) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePolicy(path, data, types)
}

// ParsePolicy decodes and validates policy bytes; file names the source in errors.
func ParsePolicy(file string, data []byte, types CheckTypes) (*Policy, error) {
	var p Policy
	root, err := decodeStrict(file, data, &p)
	if err != nil {
		return nil, err
	}
	p.applyDefaults()
	v := &validator{file: file, root: root}
	p.validate(v, types)
	if err := v.err(); err != nil {
		return nil, err
	}
	return &p, nil
}

// DefaultPolicyName is the name of the policy a release runs under when it names none.
const DefaultPolicyName = "default"

// ValidPolicyName reports whether name can name a worker policy (the file NAME.yaml in the
// worker's policy directory): lower-case letters, digits and dashes, so it is never a path.
func ValidPolicyName(name string) bool { return nameRE.MatchString(name) }

// PolicyNameOf is the name a policy file is known by on a worker: its base name without .yaml.
func PolicyNameOf(path string) string {
	return strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".yaml"), ".yml")
}

// LoadRelease reads and validates the manifest a release manager starts a release with. Its
// evidence and artifacts are still locations: the starter uploads them (evstore.Upload). The
// policy is the worker's: the workflow validates the manifest against it again.
func LoadRelease(manifestPath string) (*Manifest, error) {
	return LoadManifest(manifestPath)
}

// Load reads a manifest and a policy file a caller holds (the embedded stack's policy
// directory, tests) and validates them against each other, as the workflow will: it returns
// the input naming the policy by its file name, and the policy. The input's evidence and
// artifacts are still locations relative to the manifest: upload them (evstore.Upload)
// before starting.
func Load(manifestPath, policyPath string, types CheckTypes) (Input, *Policy, error) {
	m, err := LoadManifest(manifestPath)
	if err != nil {
		return Input{}, nil, err
	}
	p, err := LoadPolicy(policyPath, types)
	if err != nil {
		return Input{}, nil, err
	}
	if err := ValidateRelease(manifestPath, m, p); err != nil {
		return Input{}, nil, err
	}
	return Input{Manifest: *m, PolicyName: PolicyNameOf(policyPath)}, p, nil
}
