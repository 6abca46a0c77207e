// Package release is shipgate's domain: the manifest a release manager writes, the policy the
// platform team owns, the stages and gates a release passes, and the status and audit log the
// workflow keeps. It is pure (no I/O but reading the two YAML files) and deterministic, so the
// workflow can import it.
package release

import (
	"fmt"
	"time"
)

// Stage is where a release is in its lifecycle.
type Stage string

const (
	StageDevelopment Stage = "development"
	StageStaging     Stage = "staging"
	StageTestnet     Stage = "testnet"
	StageCanary      Stage = "canary"
	StageProduction  Stage = "production"
	StageDone        Stage = "done"
)

// Stages lists the stages a release moves through, in order (done excluded).
var Stages = []Stage{StageDevelopment, StageStaging, StageTestnet, StageCanary, StageProduction}

// Next is the stage after s; done after production.
func (s Stage) Next() Stage {
	for i, st := range Stages {
		if st == s && i+1 < len(Stages) {
			return Stages[i+1]
		}
	}
	return StageDone
}

// Valid reports whether s names a stage.
func (s Stage) Valid() bool {
	for _, st := range Stages {
		if st == s {
			return true
		}
	}
	return s == StageDone
}

// TrafficMoves reports whether real users' traffic is routed to the new version in stage s:
// from the canary on, a rollback target must be recorded first.
func (s Stage) TrafficMoves() bool { return s == StageCanary || s == StageProduction }

// Deploys says whether the stage puts the release's version on all of its environment's
// traffic (staging and testnet); checks that measure the version there wait for it.
func (s Stage) Deploys() bool { return s == StageStaging || s == StageTestnet }

// State is what a release is doing now.
type State string

const (
	StateRunning    State = "running"
	StateWaiting    State = "waiting" // on a window or on people
	StateBlocked    State = "blocked" // a check failed or was rejected; needs recheck or abort
	StatePaused     State = "paused"
	StateSucceeded  State = "succeeded"
	StateRolledBack State = "rolled_back"
	StateAborted    State = "aborted"
	StateFailed     State = "failed"
	// StateRollbackFailed: the way back (traffic to the previous version, proxies reverted)
	// has not completed yet; the release stays open, retrying, and takes rollback and abort.
	StateRollbackFailed State = "rollback_failed"
	// StateRestored: a restore (RestoreWorkflow) returned the traffic and proxies a release
	// left when it was terminated or timed out.
	StateRestored State = "restored"
)

// Final reports whether the release has ended.
func (s State) Final() bool {
	switch s {
	case StateSucceeded, StateRolledBack, StateAborted, StateFailed, StateRestored:
		return true
	}
	return false
}

// Flags describe the change; a check's `when` condition is evaluated against them.
type Flags struct {
	Major      bool `yaml:"major" json:"major"`
	Contracts  bool `yaml:"contracts" json:"contracts"`
	UserFacing bool `yaml:"userFacing" json:"userFacing"`
	Regulated  bool `yaml:"regulated" json:"regulated"`
}

// Condition names a change flag; a check with conditions applies when any of them holds.
type Condition string

const (
	WhenMajor      Condition = "major"
	WhenContracts  Condition = "contracts"
	WhenUserFacing Condition = "userFacing"
	WhenRegulated  Condition = "regulated"
)

// Holds reports whether the condition is true for the change.
func (c Condition) Holds(f Flags) bool {
	switch c {
	case WhenMajor:
		return f.Major
	case WhenContracts:
		return f.Contracts
	case WhenUserFacing:
		return f.UserFacing
	case WhenRegulated:
		return f.Regulated
	}
	return false
}

// Reason is the human phrase for why a conditional check applies.
func (c Condition) Reason() string {
	switch c {
	case WhenMajor:
		return "major change"
	case WhenContracts:
		return "contracts changed"
	case WhenUserFacing:
		return "user-facing change"
	case WhenRegulated:
		return "regulated or data use changes"
	}
	return string(c)
}

// Duration is a time.Duration written in YAML and JSON as text: "14d", "24h", "90s".
type Duration time.Duration

// ParseDuration accepts Go durations plus a whole-day suffix "d".
func ParseDuration(s string) (Duration, error) {
	if n := len(s); n > 1 && s[n-1] == 'd' {
		var days int
		if _, err := fmt.Sscanf(s[:n-1], "%d", &days); err != nil || fmt.Sprint(days) != s[:n-1] {
			return 0, fmt.Errorf("invalid duration %q: want a whole number of days like 14d", s)
		}
		if days < 0 || days > 3650 {
			return 0, fmt.Errorf("invalid duration %q: days out of range", s)
		}
		return Duration(time.Duration(days) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 14d, 24h, 30m", s)
	}
	return Duration(d), nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string {
	td := time.Duration(d)
	if td != 0 && td%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", td/(24*time.Hour))
	}
	return td.String()
}

// MarshalText writes the duration as text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "14d", "24h" and friends.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
