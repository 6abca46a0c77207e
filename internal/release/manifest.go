package release

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Manifest is one release of a product, written by the release manager (release.yaml).
type Manifest struct {
	Service         string `yaml:"service" json:"service"`
	Version         string `yaml:"version" json:"version"`
	PreviousVersion string `yaml:"previousVersion" json:"previousVersion"`
	Author          string `yaml:"author" json:"author"` // identity: a group member's id, email or Slack id
	Changes         Flags  `yaml:"changes" json:"changes"`
	// Commit is the full SHA of the commit the release is built from: reports that name a
	// revision must name this one.
	Commit string `yaml:"commit,omitempty" json:"commit,omitempty"`
	// CommitTime is when that commit was made (RFC 3339, e.g. `git show -s --format=%cI`):
	// the start of the DORA lead time for changes, which ends when the release serves 100 %.
	CommitTime string `yaml:"commitTime,omitempty" json:"commitTime,omitempty"`
	// Channel is the Slack channel for this release's messages (overrides the policy's).
	Channel string `yaml:"channel,omitempty" json:"channel,omitempty"`
	// Targets are the service's deploy targets per environment, by stage name.
	Targets map[Stage]Target `yaml:"targets,omitempty" json:"targets,omitempty"`
	// Contracts the release deploys (deployed by the contracts stage actions).
	Contracts []Contract `yaml:"contracts,omitempty" json:"contracts,omitempty"`
	// Evidence locates the evidence of each automated check, by check name: paths relative
	// to the manifest, or http(s) URLs. The starter reads each (fetches a URL), uploads it to
	// the evidence store and replaces this with Blobs: a release's input names no location.
	Evidence map[string][]string `yaml:"evidence,omitempty" json:"evidence,omitempty"`
	// Blobs is the evidence of each automated check as stored, by check name: what the
	// workflow sees and the worker reads. Never written in release.yaml.
	Blobs map[string][]Blob `yaml:"-" json:"blobs,omitempty"`
	Links Links             `yaml:"links,omitempty" json:"links,omitempty"`
}

// Target says where the service of one environment is deployed and its traffic switched.
type Target struct {
	// Environment is the name the traffic backend knows (defaults to the stage name).
	Environment string `yaml:"environment,omitempty" json:"environment,omitempty"`
}

// Contract is one smart contract the release deploys.
type Contract struct {
	Name     string `yaml:"name" json:"name"`
	Artifact string `yaml:"artifact" json:"artifact"`
	// ContractName picks the contract in an artifact file that holds several (solc
	// standard-json output); default Name.
	ContractName string   `yaml:"contractName,omitempty" json:"contractName,omitempty"`
	Args         []string `yaml:"args,omitempty" json:"args,omitempty"`
	Proxy        *Proxy   `yaml:"proxy,omitempty" json:"proxy,omitempty"`
	// ArtifactBlob is the artifact file as stored by the starter: the worker reads this, and
	// Artifact is only its name.
	ArtifactBlob *Blob `yaml:"-" json:"artifactBlob,omitempty"`
}

// Proxy describes an EIP-1967 proxy in front of an implementation.
type Proxy struct {
	Kind        string   `yaml:"kind" json:"kind"` // uups | transparent
	Initializer string   `yaml:"initializer,omitempty" json:"initializer,omitempty"`
	InitArgs    []string `yaml:"initArgs,omitempty" json:"initArgs,omitempty"`
	// Artifact and ContractName give the proxy's own code (e.g. OpenZeppelin's ERC1967Proxy,
	// constructor (implementation, initData)): needed by the release that deploys it first.
	Artifact     string `yaml:"artifact,omitempty" json:"artifact,omitempty"`
	ContractName string `yaml:"contractName,omitempty" json:"contractName,omitempty"`
	// ArtifactBlob is the proxy's artifact as stored by the starter (see Contract).
	ArtifactBlob *Blob `yaml:"-" json:"artifactBlob,omitempty"`
}

// ArtifactContract is the proxy's contract name inside its artifact file; default
// ERC1967Proxy, OpenZeppelin's.
func (p Proxy) ArtifactContract() string {
	if p.ContractName != "" {
		return p.ContractName
	}
	return "ERC1967Proxy"
}

// ArtifactContract is the contract's name inside its artifact file.
func (c Contract) ArtifactContract() string {
	if c.ContractName != "" {
		return c.ContractName
	}
	return c.Name
}

// Links are documents the observability gate checks and people read.
type Links struct {
	Runbook           string   `yaml:"runbook,omitempty" json:"runbook,omitempty"`
	RollbackProcedure string   `yaml:"rollbackProcedure,omitempty" json:"rollbackProcedure,omitempty"`
	IncidentPlan      string   `yaml:"incidentPlan,omitempty" json:"incidentPlan,omitempty"`
	Audits            []string `yaml:"audits,omitempty" json:"audits,omitempty"`
}

// ID is the workflow id of the release: release/<service>/<version>.
func (m *Manifest) ID() string { return WorkflowID(m.Service, m.Version) }

// WorkflowID builds the workflow id of a release.
func WorkflowID(service, version string) string { return "release/" + service + "/" + version }

// Environment is the traffic backend's name for a stage.
func (m *Manifest) Environment(s Stage) string {
	if t, ok := m.Targets[s]; ok && t.Environment != "" {
		return t.Environment
	}
	return string(s)
}

var (
	serviceRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	commitRE  = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	versionRE = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// LoadManifest reads, strictly decodes and validates a manifest file.
func LoadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseManifest(path, data)
}

// CommittedAt is CommitTime parsed; false when the manifest names none.
func (m *Manifest) CommittedAt() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, m.CommitTime)
	return t, err == nil
}

// ParseManifest decodes and validates manifest bytes; file names the source in errors.
func ParseManifest(file string, data []byte) (*Manifest, error) {
	var m Manifest
	root, err := decodeStrict(file, data, &m)
	if err != nil {
		return nil, err
	}
	v := &validator{file: file, root: root}
	m.validate(v)
	if err := v.err(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) validate(v *validator) {
	if !serviceRE.MatchString(m.Service) {
		v.addf("service", "must be lower-case letters, digits and dashes, starting with a letter (got %q)", m.Service)
	}
	if !versionRE.MatchString(m.Version) {
		v.addf("version", "must be a semantic version like 1.4.0 (got %q)", m.Version)
	}
	if m.PreviousVersion == "" {
		v.addf("previousVersion", "is required: it is the rollback target")
	} else if !versionRE.MatchString(m.PreviousVersion) {
		v.addf("previousVersion", "must be a semantic version like 1.3.2 (got %q)", m.PreviousVersion)
	} else if m.PreviousVersion == m.Version {
		v.addf("previousVersion", "equals version %q: a release must change the version", m.Version)
	}
	if m.Commit != "" && !commitRE.MatchString(m.Commit) {
		v.addf("commit", "must be the full commit SHA (40 or 64 lower-case hex digits) the release is built from")
	}
	if m.CommitTime != "" {
		if _, err := time.Parse(time.RFC3339, m.CommitTime); err != nil {
			v.addf("commitTime", "must be an RFC 3339 time like 2026-11-30T14:05:00Z, as git show -s --format=%%cI prints it (got %q)", m.CommitTime)
		}
	}
	if strings.TrimSpace(m.Author) == "" {
		v.addf("author", "is required: the author may not approve their own release")
	}
	for s := range m.Targets {
		if !s.Valid() || s == StageDone {
			v.addf("targets", "unknown stage %q (want one of %v)", s, Stages)
		}
	}
	for name, locs := range m.Evidence {
		if len(locs) == 0 {
			v.addf("evidence["+name+"]", "lists no evidence")
		}
		for i, loc := range locs {
			if err := checkLocation(loc); err != nil {
				v.addf(fmt.Sprintf("evidence[%s][%d]", name, i), "%v", err)
			}
		}
	}
	seen := map[string]bool{}
	for i, c := range m.Contracts {
		f := fmt.Sprintf("contracts[%d]", i)
		if c.Name == "" {
			v.addf(f+".name", "is required")
		} else if seen[c.Name] {
			v.addf(f+".name", "contract %q is listed twice", c.Name)
		}
		seen[c.Name] = true
		if c.Artifact == "" {
			v.addf(f+".artifact", "is required")
		}
		if c.Proxy != nil && c.Proxy.Kind != "uups" && c.Proxy.Kind != "transparent" {
			v.addf(f+".proxy.kind", "must be uups or transparent (got %q)", c.Proxy.Kind)
		}
	}
	if len(m.Contracts) > 0 && !m.Changes.Contracts {
		v.addf("changes.contracts", "must be true when the release lists contracts")
	}
}

func checkLocation(loc string) error {
	if loc == "" {
		return fmt.Errorf("empty location")
	}
	if strings.Contains(loc, "://") {
		u, err := url.Parse(loc)
		if err != nil {
			return fmt.Errorf("invalid URL: %v", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("scheme %q not supported (want a path, http or https)", u.Scheme)
		}
	}
	return nil
}

// EvidenceCount is how many pieces of evidence the manifest names for a check, as locations
// (release.yaml) or as stored blobs (a release's input).
func (m *Manifest) EvidenceCount(check string) int {
	return len(m.Evidence[check]) + len(m.Blobs[check])
}

// evidenceChecks names every check the manifest gives evidence for, sorted.
func (m *Manifest) evidenceChecks() []string {
	seen := map[string]bool{}
	for k := range m.Evidence {
		seen[k] = true
	}
	for k := range m.Blobs {
		seen[k] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// ValidateStored checks that a release's input names its evidence and contract artifacts only
// as blobs in the evidence store, never as a path or URL the worker would have to open.
func ValidateStored(file string, m *Manifest) error {
	v := &validator{file: file}
	if m.Commit == "" {
		v.addf("commit", "is required: the full SHA of the commit the release is built from, which its reports must name")
	}
	for _, name := range slices.Sorted(maps.Keys(m.Evidence)) {
		v.addf("evidence["+name+"]", "names a location: a release's evidence travels as blobs the starter uploaded to the evidence store (the worker opens no path and fetches no URL)")
	}
	for _, name := range slices.Sorted(maps.Keys(m.Blobs)) {
		if len(m.Blobs[name]) == 0 {
			v.addf("blobs["+name+"]", "lists no evidence")
		}
		for i, b := range m.Blobs[name] {
			if err := b.Validate(); err != nil {
				v.addf(fmt.Sprintf("blobs[%s][%d]", name, i), "%v", err)
			}
		}
	}
	for i, c := range m.Contracts {
		validateArtifactBlob(v, fmt.Sprintf("contracts[%d]", i), c.ArtifactBlob)
		if c.Proxy != nil && c.Proxy.Artifact != "" {
			validateArtifactBlob(v, fmt.Sprintf("contracts[%d].proxy", i), c.Proxy.ArtifactBlob)
		}
	}
	return v.err()
}

func validateArtifactBlob(v *validator, field string, b *Blob) {
	if b == nil {
		v.addf(field+".artifactBlob", "is missing: the starter uploads every contract artifact to the evidence store")
	} else if err := b.Validate(); err != nil {
		v.addf(field+".artifactBlob", "%v", err)
	}
}

// ValidVersion reports whether v is a semantic version as manifests spell them.
func ValidVersion(v string) bool { return versionRE.MatchString(v) }
