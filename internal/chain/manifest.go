package chain

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/release"
)

// CheckContracts validates a manifest's contracts before the release starts: every artifact
// loads, and the constructor and initializer arguments ABI-encode with the right count and
// types. Errors name the manifest file, the field, the contract and argument, and the reason.
// Relative artifact paths are relative to the manifest's directory.
func CheckContracts(manifestFile string, contracts []release.Contract) error {
	dir := filepath.Dir(manifestFile)
	resolve := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	var errs []error
	add := func(field string, err error) {
		errs = append(errs, &release.FieldError{File: manifestFile, Field: field, Reason: err.Error()})
	}
	for i, c := range contracts {
		f := fmt.Sprintf("contracts[%d]", i)
		a, err := LoadArtifact(resolve(c.Artifact), c.ArtifactContract())
		if err != nil {
			add(f+".artifact", err)
			continue
		}
		if _, err := a.DeployData(c.Args); err != nil {
			add(f+".args", err)
		}
		p := c.Proxy
		if p == nil {
			continue
		}
		if p.Initializer != "" {
			if _, err := a.EncodeCall(p.Initializer, p.InitArgs); err != nil {
				add(f+".proxy.initArgs", err)
			}
		} else if len(p.InitArgs) > 0 {
			add(f+".proxy.initArgs", errors.New("initArgs without an initializer"))
		}
		if a.StorageLayout == nil {
			add(f+".artifact", fmt.Errorf("%s has no storage layout: an upgradeable contract's layout is checked on every upgrade; compile with storageLayout output", a.Name))
		}
		if p.Artifact != "" {
			name := p.ArtifactContract()
			pa, err := LoadArtifact(resolve(p.Artifact), name)
			if err != nil {
				add(f+".proxy.artifact", err)
			} else if _, err := pa.DeployData([]string{common.Address{}.Hex(), "0x"}); err != nil {
				add(f+".proxy.artifact", fmt.Errorf("%s: want an ERC1967 proxy with constructor (address implementation, bytes data): %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}
