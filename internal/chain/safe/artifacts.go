// Package safe governs a chain's contract upgrades through a Safe multisig and an OpenZeppelin
// TimelockController, the way teams holding user funds make them: shipgate proposes, the Safe's
// owners approve on their own devices, the timelock makes the change visible for its delay, and
// only then does the proxy switch. The worker's own key never upgrades a governed proxy: it only
// pays gas to submit what the owners approved (execTransaction) and what the delay released
// (execute).
//
// The package computes everything an owner must check itself (the SafeTx EIP-712 hash, the
// timelock operation ids, the decoded calldata), reads the governance state from the chain to
// compare with the policy, and sends the two executing transactions through chain.SignTx, so
// they inherit its crash-safe nonce store: one operation key, one signed transaction, ever.
package safe

import (
	"embed"
	"fmt"
	"sync"

	"github.com/shipgate/shipgate/internal/chain"
)

// The committed artifacts: upstream bytecode and ABIs (contracts/extract.js copies them from
// the npm packages pinned in contracts/package-lock.json).
//
//go:embed contracts/artifacts/*.json
var artifactFS embed.FS

// Contract names of the committed artifacts.
const (
	NameSafe         = "Safe"               // Safe v1.5.0 singleton
	NameProxyFactory = "SafeProxyFactory"   // Safe v1.5.0 proxy factory
	NameMultiSend    = "MultiSendCallOnly"  // Safe v1.5.0 batching library (delegatecall target)
	NameTimelock     = "TimelockController" // OpenZeppelin Contracts 5.7.0
	// NameTransparentProxy is OpenZeppelin's TransparentUpgradeableProxy (5.7.0): its
	// constructor deploys the proxy's own ProxyAdmin, owned by initialOwner.
	NameTransparentProxy = "TransparentUpgradeableProxy"
	NameProxyAdmin       = "ProxyAdmin" // OpenZeppelin Contracts 5.7.0
)

var (
	artifactsOnce sync.Once
	artifacts     map[string]*chain.Artifact
	artifactsErr  error
)

// Artifact returns one of the committed governance artifacts by name (Name* constants).
func Artifact(name string) (*chain.Artifact, error) {
	artifactsOnce.Do(func() {
		artifacts = map[string]*chain.Artifact{}
		for _, n := range []string{NameSafe, NameProxyFactory, NameMultiSend, NameTimelock, NameTransparentProxy, NameProxyAdmin} {
			file := "contracts/artifacts/" + n + ".json"
			data, err := artifactFS.ReadFile(file)
			if err != nil {
				artifactsErr = fmt.Errorf("governance artifact %s: %w", n, err)
				return
			}
			a, err := chain.ParseArtifact(file, data, n)
			if err != nil {
				artifactsErr = err
				return
			}
			artifacts[n] = a
		}
	})
	if artifactsErr != nil {
		return nil, artifactsErr
	}
	a, ok := artifacts[name]
	if !ok {
		return nil, fmt.Errorf("no governance artifact %q", name)
	}
	return a, nil
}

func mustArtifact(name string) *chain.Artifact {
	a, err := Artifact(name)
	if err != nil {
		panic(err)
	}
	return a
}
