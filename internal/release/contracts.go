package release

import (
	"encoding/json"
	"time"
)

// Contract activity names (activities.Contracts). A transaction is four activities so that
// each step's result is in history before the next starts: sign (the signed bytes and hash
// enter history), broadcast (the same bytes, harmless to repeat), confirm (waits, heartbeating,
// re-broadcasting the same bytes if a reorg drops them), record (verifies the code and writes
// the deployment record).

// Contract operations a release performs on a chain.
const (
	OpDeploy      = "deploy"       // a plain contract, or an implementation behind a proxy
	OpDeployProxy = "deploy-proxy" // the first release of an upgradeable contract: its proxy
	OpUpgrade     = "upgrade"      // point the proxy at this release's implementation
	OpRevert      = "revert"       // rollback: point the proxy back at the previous implementation
)

// ContractsPlanRequest asks what a release's contracts need on one chain.
type ContractsPlanRequest struct {
	ReleaseID string     `json:"releaseId"`
	Chain     Chain      `json:"chain"`
	Contracts []Contract `json:"contracts"`
}

// ContractPlan is one contract on one chain before the release touches it: the digest of the
// artifact to deploy and, for a proxy, where it is and what it runs now (the rollback target,
// read from the EIP-1967 slot and checked against the deployment record).
type ContractPlan struct {
	Contract       string `json:"contract"`
	ArtifactDigest string `json:"artifactDigest"`
	Proxy          string `json:"proxy,omitempty"`          // existing proxy; empty on a first release
	Implementation string `json:"implementation,omitempty"` // the proxy's current implementation
}

// ContractsPlan is every contract of the release on one chain.
type ContractsPlan struct {
	Chain     string         `json:"chain"`
	ChainID   uint64         `json:"chainId"`
	Contracts []ContractPlan `json:"contracts"`
}

// ContractTx asks for one transaction. OpKey makes signing idempotent: the same key always
// yields the same signed bytes, whatever crashes in between.
type ContractTx struct {
	ReleaseID string   `json:"releaseId"`
	Chain     Chain    `json:"chain"`
	OpKey     string   `json:"opKey"`
	Op        string   `json:"op"`
	Contract  Contract `json:"contract"`
	// Implementation is the address deploy-proxy, upgrade and revert point the proxy at.
	Implementation string `json:"implementation,omitempty"`
	// Proxy is the proxy upgrade and revert call.
	Proxy string `json:"proxy,omitempty"`
	// Proposal is a governed operation's proposal (internal/chain/safe.Proposal).
	Proposal json.RawMessage `json:"proposal,omitempty"`
	// Signatures are owners' EIP-712 signatures of the proposal's safeTxHash handed in through
	// the CLI (safe-sign), packed into execTransaction with the on-chain approvals.
	Signatures []SafeSignature `json:"signatures,omitempty"`
	// Round numbers a governed execution's attempts after the Safe refused the first for too
	// few valid approvals (0: the first): each round signs under an operation key of its own,
	// since the refused one's transaction is spent or was never signed (the Safe transaction's
	// nonce, unused, keeps it from executing twice).
	Round int `json:"round,omitempty"`
}

// SignedTx is a signed transaction as it enters history: the exact bytes to broadcast, its
// hash and what it does. Nothing in it is secret.
type SignedTx struct {
	Raw             string `json:"raw"` // 0x-hex
	Hash            string `json:"hash"`
	ChainID         uint64 `json:"chainId"`
	From            string `json:"from"`
	To              string `json:"to,omitempty"`
	Nonce           uint64 `json:"nonce"`
	ContractAddress string `json:"contractAddress,omitempty"` // CREATE address, recorded before broadcast
}

// ContractTxStep carries a signed transaction to the broadcast, confirm and record steps.
type ContractTxStep struct {
	Tx      ContractTx `json:"tx"`
	Signed  SignedTx   `json:"signed"`
	Receipt TxReceipt  `json:"receipt,omitzero"`
}

// TxReceipt is a transaction with its confirmations.
type TxReceipt struct {
	Block         uint64 `json:"block"`
	BlockHash     string `json:"blockHash"`
	GasUsed       uint64 `json:"gasUsed"`
	Confirmations uint64 `json:"confirmations"`
	Rebroadcasts  int    `json:"rebroadcasts,omitempty"`
}

// ContractDeployment is one verified transaction's result: what is at the address now.
type ContractDeployment struct {
	Chain          string    `json:"chain"`
	ChainID        uint64    `json:"chainId"`
	Contract       string    `json:"contract"`
	Op             string    `json:"op"`
	Kind           string    `json:"kind"` // contract | proxy | implementation
	Address        string    `json:"address"`
	TxHash         string    `json:"txHash"`
	Nonce          uint64    `json:"nonce"`
	Block          uint64    `json:"block"`
	Confirmations  uint64    `json:"confirmations"`
	CodeHash       string    `json:"codeHash"`
	ArtifactDigest string    `json:"artifactDigest,omitempty"`
	Implementation string    `json:"implementation,omitempty"` // proxies: where the slot points
	At             time.Time `json:"at"`
}
