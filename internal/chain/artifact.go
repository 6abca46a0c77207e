// Package chain is shipgate's Ethereum library: contract artifacts, constructor arguments,
// transaction signing with a collision-free nonce scheme, broadcast and confirmation waiting,
// deployed-code verification, EIP-1967 proxy upgrades with storage layout checks, and the
// deployment record store. It holds no workflow logic: activities call it.
//
// The exactly-once deploy is split in three steps so that a crash at any point is safe:
// Sign (the signed bytes and hash enter Temporal history), Broadcast (re-sending the same bytes
// is harmless) and WaitConfirmed (re-broadcasts the same bytes if a reorg or a pool eviction
// dropped the transaction).
package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
)

// Artifact formats recognised by ParseArtifact.
const (
	FormatFoundry      = "foundry"
	FormatHardhat      = "hardhat"
	FormatSolcStandard = "solc-standard-json"
	FormatHardhatBuild = "hardhat-build-info"
)

// ByteRange is a region of deployed bytecode, used for immutable references.
type ByteRange struct {
	Start  int `json:"start"`
	Length int `json:"length"`
}

// Artifact is one compiled contract, whatever tool produced it.
type Artifact struct {
	Name   string // contract name, e.g. "CounterV1"
	Source string // source unit, e.g. "src/CounterV1.sol"; empty when the format does not say
	Format string // one of the Format* constants
	File   string // where it was loaded from, for error messages

	ABI              abi.ABI
	RawABI           json.RawMessage
	Bytecode         []byte      // creation code, without constructor arguments
	DeployedBytecode []byte      // runtime code as the compiler emitted it (immutables zeroed)
	Immutables       []ByteRange // sorted by Start; nil when the format does not carry them
	HasImmutableInfo bool        // false for formats without immutable references (plain Hardhat)
	StorageLayout    *StorageLayout

	// Digest is "sha256:<hex>" over the canonical content (name, ABI, both bytecodes,
	// immutables, storage layout): the same contract gives the same digest from every format.
	Digest string
}

// ArtifactError says which file and field of an artifact is wrong.
type ArtifactError struct {
	File   string
	Field  string
	Reason string
}

func (e *ArtifactError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("artifact %s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("artifact %s: field %s: %s", e.File, e.Field, e.Reason)
}

func artErr(file, field, format string, args ...any) error {
	return &ArtifactError{File: file, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// LoadArtifact reads the artifact file at path. contract selects the contract in a solc
// standard-JSON output or Hardhat build-info ("Name" or "src/File.sol:Name"); for Foundry and
// Hardhat per-contract files it may be empty or must match the file's contract. A Hardhat
// artifact's immutable references and storage layout are taken from its build-info (found
// through the sibling .dbg.json) when that is present.
func LoadArtifact(path, contract string) (*Artifact, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w", path, err)
	}
	a, err := ParseArtifact(path, data, contract)
	if err != nil {
		return nil, err
	}
	if a.Format == FormatHardhat {
		if err := enrichFromBuildInfo(path, a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// ParseArtifact parses artifact bytes; file is used for errors and to infer a Foundry contract
// name (out/<File>.sol/<Name>.json).
func ParseArtifact(file string, data []byte, contract string) (*Artifact, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, artErr(file, "", "not a JSON object: %v", err)
	}
	switch {
	case top["contracts"] != nil:
		return parseStandardOutput(file, "", top, contract, FormatSolcStandard)
	case top["output"] != nil:
		var out map[string]json.RawMessage
		if err := json.Unmarshal(top["output"], &out); err != nil {
			return nil, artErr(file, "output", "not a JSON object: %v", err)
		}
		return parseStandardOutput(file, "output.", out, contract, FormatHardhatBuild)
	case top["_format"] != nil:
		return parseHardhat(file, top, contract)
	case top["bytecode"] != nil && len(bytes.TrimSpace(top["bytecode"])) > 0 && bytes.TrimSpace(top["bytecode"])[0] == '{':
		return parseFoundry(file, top, contract)
	}
	return nil, artErr(file, "", "unknown artifact format: expected Foundry (bytecode.object), Hardhat (_format), or solc standard-JSON output (contracts)")
}

// solcContract is one contract in solc's standard-JSON output.
type solcContract struct {
	ABI json.RawMessage `json:"abi"`
	EVM struct {
		Bytecode struct {
			Object string `json:"object"`
		} `json:"bytecode"`
		DeployedBytecode struct {
			Object              string                 `json:"object"`
			ImmutableReferences map[string][]ByteRange `json:"immutableReferences"`
		} `json:"deployedBytecode"`
	} `json:"evm"`
	StorageLayout json.RawMessage `json:"storageLayout"`
}

func parseStandardOutput(file, prefix string, top map[string]json.RawMessage, contract string, format string) (*Artifact, error) {
	var out struct {
		Errors []struct {
			Severity         string `json:"severity"`
			FormattedMessage string `json:"formattedMessage"`
			Message          string `json:"message"`
		} `json:"errors"`
		Contracts map[string]map[string]json.RawMessage `json:"contracts"`
	}
	if e, ok := top["errors"]; ok {
		if err := json.Unmarshal(e, &out.Errors); err != nil {
			return nil, artErr(file, prefix+"errors", "not a list of errors: %v", err)
		}
	}
	for i, e := range out.Errors {
		if e.Severity == "error" {
			return nil, artErr(file, fmt.Sprintf("%serrors[%d]", prefix, i), "compiler error: %s", firstNonEmpty(e.FormattedMessage, e.Message))
		}
	}
	if err := json.Unmarshal(top["contracts"], &out.Contracts); err != nil {
		return nil, artErr(file, prefix+"contracts", "not an object of source units: %v", err)
	}
	if contract == "" {
		return nil, artErr(file, prefix+"contracts", "a contract name is required for a standard-JSON output (have %s)", strings.Join(contractNames(out.Contracts), ", "))
	}
	wantSource, wantName := "", contract
	if i := strings.LastIndex(contract, ":"); i >= 0 {
		wantSource, wantName = contract[:i], contract[i+1:]
	}
	var matches []string
	for src, byName := range out.Contracts {
		if wantSource != "" && src != wantSource {
			continue
		}
		if _, ok := byName[wantName]; ok {
			matches = append(matches, src)
		}
	}
	sort.Strings(matches)
	switch len(matches) {
	case 0:
		return nil, artErr(file, prefix+"contracts", "no contract %q (have %s)", contract, strings.Join(contractNames(out.Contracts), ", "))
	case 1:
	default:
		return nil, artErr(file, prefix+"contracts", "contract name %q is ambiguous (in %s): use \"<source>:<name>\"", contract, strings.Join(matches, ", "))
	}
	src := matches[0]
	field := fmt.Sprintf("%scontracts[%q][%q]", prefix, src, wantName)
	var c solcContract
	if err := json.Unmarshal(out.Contracts[src][wantName], &c); err != nil {
		return nil, artErr(file, field, "not a contract object: %v", err)
	}
	a := &Artifact{Name: wantName, Source: src, Format: format, File: file, HasImmutableInfo: true}
	if err := a.setABI(c.ABI, field+".abi"); err != nil {
		return nil, err
	}
	if err := a.setCode(c.EVM.Bytecode.Object, c.EVM.DeployedBytecode.Object, field+".evm.bytecode.object", field+".evm.deployedBytecode.object"); err != nil {
		return nil, err
	}
	if err := a.setImmutables(c.EVM.DeployedBytecode.ImmutableReferences, field+".evm.deployedBytecode.immutableReferences"); err != nil {
		return nil, err
	}
	if err := a.setLayout(c.StorageLayout, field+".storageLayout"); err != nil {
		return nil, err
	}
	return a, a.finish()
}

func parseFoundry(file string, top map[string]json.RawMessage, contract string) (*Artifact, error) {
	var f struct {
		ABI      json.RawMessage `json:"abi"`
		Bytecode struct {
			Object string `json:"object"`
		} `json:"bytecode"`
		DeployedBytecode struct {
			Object              string                 `json:"object"`
			ImmutableReferences map[string][]ByteRange `json:"immutableReferences"`
		} `json:"deployedBytecode"`
		StorageLayout json.RawMessage `json:"storageLayout"`
		Metadata      json.RawMessage `json:"metadata"`
	}
	// Re-decode per field so a wrong type is reported with its field name.
	for _, fld := range []struct {
		name string
		dst  any
	}{{"bytecode", &f.Bytecode}, {"deployedBytecode", &f.DeployedBytecode}} {
		raw, ok := top[fld.name]
		if !ok {
			return nil, artErr(file, fld.name, "missing")
		}
		if err := json.Unmarshal(raw, fld.dst); err != nil {
			return nil, artErr(file, fld.name, "want an object with \"object\": %v", err)
		}
	}
	f.ABI, f.StorageLayout = top["abi"], top["storageLayout"]
	// Foundry names the file after the contract: out/<File>.sol/<Name>.json.
	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	source := ""
	if dir := filepath.Base(filepath.Dir(file)); strings.HasSuffix(dir, ".sol") {
		source = dir
	}
	if contract != "" && contract != name && !strings.HasSuffix(contract, ":"+name) {
		return nil, artErr(file, "", "file holds contract %q, not %q", name, contract)
	}
	a := &Artifact{Name: name, Source: source, Format: FormatFoundry, File: file, HasImmutableInfo: true}
	if err := a.setABI(f.ABI, "abi"); err != nil {
		return nil, err
	}
	if err := a.setCode(f.Bytecode.Object, f.DeployedBytecode.Object, "bytecode.object", "deployedBytecode.object"); err != nil {
		return nil, err
	}
	if err := a.setImmutables(f.DeployedBytecode.ImmutableReferences, "deployedBytecode.immutableReferences"); err != nil {
		return nil, err
	}
	if err := a.setLayout(f.StorageLayout, "storageLayout"); err != nil {
		return nil, err
	}
	return a, a.finish()
}

func parseHardhat(file string, top map[string]json.RawMessage, contract string) (*Artifact, error) {
	var h struct {
		Format           string          `json:"_format"`
		ContractName     string          `json:"contractName"`
		SourceName       string          `json:"sourceName"`
		ABI              json.RawMessage `json:"abi"`
		Bytecode         string          `json:"bytecode"`
		DeployedBytecode string          `json:"deployedBytecode"`
	}
	for _, fld := range []struct {
		name string
		dst  *string
	}{{"_format", &h.Format}, {"contractName", &h.ContractName}, {"sourceName", &h.SourceName}, {"bytecode", &h.Bytecode}, {"deployedBytecode", &h.DeployedBytecode}} {
		raw, ok := top[fld.name]
		if !ok {
			return nil, artErr(file, fld.name, "missing")
		}
		if err := json.Unmarshal(raw, fld.dst); err != nil {
			return nil, artErr(file, fld.name, "want a string: %v", err)
		}
	}
	h.ABI = top["abi"]
	if !strings.HasPrefix(h.Format, "hh-sol-artifact") && !strings.HasPrefix(h.Format, "hh3-artifact") {
		return nil, artErr(file, "_format", "unsupported Hardhat artifact format %q", h.Format)
	}
	if h.ContractName == "" {
		return nil, artErr(file, "contractName", "empty")
	}
	if contract != "" && contract != h.ContractName && contract != h.SourceName+":"+h.ContractName {
		return nil, artErr(file, "contractName", "file holds contract %q, not %q", h.ContractName, contract)
	}
	a := &Artifact{Name: h.ContractName, Source: h.SourceName, Format: FormatHardhat, File: file}
	if err := a.setABI(h.ABI, "abi"); err != nil {
		return nil, err
	}
	if err := a.setCode(h.Bytecode, h.DeployedBytecode, "bytecode", "deployedBytecode"); err != nil {
		return nil, err
	}
	return a, a.finish()
}

// ArtifactFile is the one file that holds everything the worker needs of an artifact, and
// the contract name that selects it there: the file itself, or for a Hardhat per-contract
// artifact with a build-info (found through its .dbg.json) that build-info and Source:Name.
// The starter stores this file, so the worker never looks for a sibling file.
func ArtifactFile(path, contract string) (string, string, error) {
	a, err := LoadArtifact(path, contract)
	if err != nil {
		return "", "", err
	}
	if a.Format != FormatHardhat || !a.HasImmutableInfo {
		return path, contract, nil
	}
	bi, err := buildInfoPath(path)
	if err != nil {
		return "", "", err
	}
	return bi, a.Source + ":" + a.Name, nil
}

func buildInfoPath(path string) (string, error) {
	dbgPath := strings.TrimSuffix(path, ".json") + ".dbg.json"
	data, err := os.ReadFile(dbgPath)
	if err != nil {
		return "", fmt.Errorf("artifact %s: %w", dbgPath, err)
	}
	var dbg struct {
		BuildInfo string `json:"buildInfo"`
	}
	if err := json.Unmarshal(data, &dbg); err != nil || dbg.BuildInfo == "" {
		return "", artErr(dbgPath, "buildInfo", "want a path to the build-info file")
	}
	return filepath.Join(filepath.Dir(dbgPath), filepath.FromSlash(dbg.BuildInfo)), nil
}

// enrichFromBuildInfo adds immutable references and the storage layout from the Hardhat
// build-info that the artifact's .dbg.json points to; without them code verification could not
// mask immutables. A missing .dbg.json is fine (HasImmutableInfo stays false).
func enrichFromBuildInfo(path string, a *Artifact) error {
	dbgPath := strings.TrimSuffix(path, ".json") + ".dbg.json"
	data, err := os.ReadFile(dbgPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("artifact %s: %w", dbgPath, err)
	}
	var dbg struct {
		BuildInfo string `json:"buildInfo"`
	}
	if err := json.Unmarshal(data, &dbg); err != nil || dbg.BuildInfo == "" {
		return artErr(dbgPath, "buildInfo", "want a path to the build-info file")
	}
	biPath := filepath.Join(filepath.Dir(dbgPath), filepath.FromSlash(dbg.BuildInfo))
	bi, err := LoadArtifact(biPath, a.Source+":"+a.Name)
	if err != nil {
		return err
	}
	if !bytes.Equal(bi.DeployedBytecode, a.DeployedBytecode) {
		return artErr(biPath, "output.contracts", "deployed bytecode of %s differs from %s: stale build-info", a.Name, path)
	}
	a.Immutables, a.HasImmutableInfo, a.StorageLayout = bi.Immutables, true, bi.StorageLayout
	return a.finish()
}

func (a *Artifact) setABI(raw json.RawMessage, field string) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return artErr(a.File, field, "missing")
	}
	parsed, err := abi.JSON(bytes.NewReader(raw))
	if err != nil {
		return artErr(a.File, field, "invalid ABI: %v", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return artErr(a.File, field, "invalid JSON: %v", err)
	}
	a.ABI, a.RawABI = parsed, buf.Bytes()
	return nil
}

func (a *Artifact) setCode(creation, deployed, creationField, deployedField string) error {
	var err error
	if a.Bytecode, err = decodeBytecode(creation); err != nil {
		return artErr(a.File, creationField, "%v", err)
	}
	if a.DeployedBytecode, err = decodeBytecode(deployed); err != nil {
		return artErr(a.File, deployedField, "%v", err)
	}
	return nil
}

func (a *Artifact) setImmutables(refs map[string][]ByteRange, field string) error {
	a.Immutables = nil
	ids := make([]string, 0, len(refs))
	for id := range refs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		for i, r := range refs[id] {
			if r.Start < 0 || r.Length <= 0 || r.Start > len(a.DeployedBytecode) || r.Length > len(a.DeployedBytecode)-r.Start {
				return artErr(a.File, fmt.Sprintf("%s[%q][%d]", field, id, i), "range start %d length %d outside deployed bytecode of %d bytes", r.Start, r.Length, len(a.DeployedBytecode))
			}
			a.Immutables = append(a.Immutables, r)
		}
	}
	sort.Slice(a.Immutables, func(i, j int) bool { return a.Immutables[i].Start < a.Immutables[j].Start })
	return nil
}

func (a *Artifact) setLayout(raw json.RawMessage, field string) error {
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil
	}
	l, err := ParseStorageLayout(raw)
	if err != nil {
		return artErr(a.File, field, "%v", err)
	}
	a.StorageLayout = l
	return nil
}

// finish computes the digest.
func (a *Artifact) finish() error {
	var abiVal any
	if err := json.Unmarshal(a.RawABI, &abiVal); err != nil {
		return artErr(a.File, "abi", "invalid JSON: %v", err)
	}
	canon := struct {
		Name             string         `json:"name"`
		ABI              any            `json:"abi"`
		Bytecode         string         `json:"bytecode"`
		DeployedBytecode string         `json:"deployedBytecode"`
		Immutables       []ByteRange    `json:"immutables"`
		StorageLayout    *StorageLayout `json:"storageLayout"`
	}{a.Name, abiVal, hex.EncodeToString(a.Bytecode), hex.EncodeToString(a.DeployedBytecode), a.Immutables, a.StorageLayout}
	b, err := json.Marshal(canon) // maps marshal with sorted keys: canonical
	if err != nil {
		return artErr(a.File, "", "cannot compute digest: %v", err)
	}
	sum := sha256.Sum256(b)
	a.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return nil
}

// decodeBytecode accepts hex with or without 0x. Unlinked library placeholders
// (__$<hash>$__) are refused: shipgate does not link libraries.
func decodeBytecode(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "0x")
	if i := strings.Index(s, "__"); i >= 0 {
		end := min(len(s), i+40)
		return nil, fmt.Errorf("unlinked library placeholder %q at byte %d: link libraries before deploying", s[i:end], i/2)
	}
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("odd-length hex (%d digits)", len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid hex: %v", err)
	}
	return b, nil
}

func contractNames(c map[string]map[string]json.RawMessage) []string {
	var names []string
	for src, byName := range c {
		for name := range byName {
			names = append(names, src+":"+name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
