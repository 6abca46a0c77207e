package release

// ChainRole is what a policy's chain is for: one chain per role.
type ChainRole string

// Chain roles.
const (
	ChainTestnet ChainRole = "testnet" // the contracts soak here with the testnet stage
	ChainMainnet ChainRole = "mainnet" // the contracts users run, from the canary on
)

// ChainRoles lists the roles in the order a release deploys to them.
var ChainRoles = []ChainRole{ChainTestnet, ChainMainnet}

// FailureAction is what a failed analysis does in a stage (policy onFailure).
type FailureAction string

// Failure actions.
const (
	// FailureRollback (the default) returns the traffic to the previous version at once, with
	// no human wait.
	FailureRollback FailureAction = "rollback"
	// FailurePause freezes the release for a person, for changes such as a non-reversible
	// migration; refused in production policies.
	FailurePause FailureAction = "pause"
)
