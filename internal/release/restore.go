package release

import (
	"encoding/json"
	"time"
)

// Restore returns what a release left when its execution ended without its way back
// (terminated, timed out): production traffic to the version that was live before it, and
// the proxies it switched to their previous implementations. A person runs it (starter
// restore), signed like every command; it runs as its own workflow (RestoreWorkflowID), the
// same way back a running release takes, audited, and then frees the service's production
// lane, which verifies the restore with the server.
const (
	// ActionRestore is the action a restore command is signed for.
	ActionRestore = "restore"
)

// RestoreWorkflowID is the id of the restore of one run of a release: the lane checks a
// terminated holder's restore under this id only.
func RestoreWorkflowID(releaseID, run string) string { return "restore/" + run + "/" + releaseID }

// RestoreInput starts a restore: the ended release, its run and the signed command (its To,
// when set, names the version to point production at instead of the recorded target).
type RestoreInput struct {
	Release string   `json:"release"`
	Run     string   `json:"run"`
	Command *Command `json:"command,omitempty"`
}

// RestoreResult is how a restore ended.
type RestoreResult struct {
	State State  `json:"state"`
	Live  string `json:"live,omitempty"`
	Note  string `json:"note"`
}

// SwitchedProxy is a proxy a release pointed at its implementation: the way back points it
// at Previous again.
type SwitchedProxy struct {
	Chain    Chain    `json:"chain"`
	Contract Contract `json:"contract"`
	Proxy    string   `json:"proxy"`
	Previous string   `json:"previous"` // implementation before the release
	// Proposal is set for a governed upgrade: the way back executes the revert scheduled
	// alongside it (internal/chain/safe.Proposal) instead of switching with the worker's key.
	Proposal json.RawMessage `json:"proposal,omitempty"`
}

// WayBack is what a release's way back has to return, as its workflow knows it.
type WayBack struct {
	Switched []SwitchedProxy `json:"switched,omitempty"`
}

// EndedRelease is what ReadEndedRelease found of a release execution.
type EndedRelease struct {
	Running bool   `json:"running,omitempty"`
	Ended   string `json:"ended,omitempty"` // terminated, timed_out, completed, ...
	Input   Input  `json:"input"`
	Status  Status `json:"status"`
	// WayBack is nil for releases whose workflow predates the query: only traffic is returned.
	WayBack *WayBack `json:"wayBack,omitempty"`
	// InFlightUntil is when an activity (a traffic call, a transaction) still running when the
	// execution ended can no longer land; zero when none was.
	InFlightUntil time.Time `json:"inFlightUntil,omitzero"`
}
