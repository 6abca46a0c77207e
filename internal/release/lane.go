package release

import (
	"fmt"
	"time"
)

// The production lane of a service: one release at a time moves a service's canary and
// production traffic. Each service has one long-lived lane workflow (LaneWorkflowID) that
// records what is live in production, which release holds the lane and which wait for it.
// A release enters the lane before its canary moves traffic and leaves it when it ends; its
// rollback target is what the lane says is live, never a manifest field alone.
//
// The lane trusts no claim. It grants the lane only to a release execution the server says is
// running, and frees it only once the holder's own status says it ended (or a restore has
// returned what a terminated holder left). Its hints to releases (SignalLaneChanged) carry
// nothing: a release reacts by asking the lane again through an activity.
const (
	// LaneQueue and LaneSupersede are the policy's rollout.concurrency: a newer release waits
	// for the one holding production, or rolls it back and takes its place.
	LaneQueue     = "queue"
	LaneSupersede = "supersede"

	// DefaultStepRetry is how long a forward traffic step retries a failing backend by default.
	DefaultStepRetry = 4 * time.Minute
	MinStepRetry     = 10 * time.Second
	MaxStepRetry     = time.Hour
)

// LaneWorkflowID is the id of a service's lane workflow.
func LaneWorkflowID(service string) string { return "lane/" + service }

// LaneEntry is one release in the lane: the holder or a waiter.
type LaneEntry struct {
	Release  string    `json:"release"`
	Run      string    `json:"run"`
	Version  string    `json:"version"`
	Previous string    `json:"previous"`
	Mode     string    `json:"mode,omitempty"` // LaneQueue or LaneSupersede
	Since    time.Time `json:"since,omitzero"`
	// SupersededBy names the newer release the holder must give the lane to.
	SupersededBy string `json:"supersededBy,omitempty"`
	// Ended is how a holder ended without leaving (terminated, timed out): the lane stays
	// held until a restore returns what it left (starter restore).
	Ended string `json:"ended,omitempty"`
}

// LaneState is a lane's record: durable in its workflow, answered by QueryLane.
type LaneState struct {
	Service string      `json:"service"`
	Live    string      `json:"live,omitempty"` // the version production serves; "" until a release enters
	LiveBy  string      `json:"liveBy,omitempty"`
	Holder  *LaneEntry  `json:"holder,omitempty"`
	Queue   []LaneEntry `json:"queue,omitempty"`
}

// LaneAnswer is the lane's answer to an entry or a departure.
type LaneAnswer struct {
	Granted  bool   `json:"granted,omitempty"`
	Live     string `json:"live,omitempty"`
	Position int    `json:"position,omitempty"` // 1 = next after the holder
	// Holder is the release holding the lane when this one was not granted it.
	Holder string `json:"holder,omitempty"`
	// SupersededBy is set, for the holder, when a newer release supersedes it.
	SupersededBy string `json:"supersededBy,omitempty"`
	// Refused says why the release may not take the lane at all (its previousVersion is not
	// what is live); the release fails before any traffic moves.
	Refused string `json:"refused,omitempty"`
}

// LaneRequest is what a release sends the lane through its activities.
type LaneRequest struct {
	Service string    `json:"service"`
	Entry   LaneEntry `json:"entry"`
}

// LaneVerification is what the server says of a release the lane is asked about.
type LaneVerification struct {
	Running bool   `json:"running"`
	Ended   string `json:"ended,omitempty"` // the execution's end when it is not running
	State   State  `json:"state,omitempty"` // the release's own status, when it answered
	// Live is the version the release left serving production when its status is final.
	Live string `json:"live,omitempty"`
	// Version, Previous and Mode are the release's own, from its status: an entry claiming
	// others is refused.
	Version  string `json:"version,omitempty"`
	Previous string `json:"previous,omitempty"`
	Mode     string `json:"mode,omitempty"`
}

// Matches says whether an entry claims what the release's own status says.
func (v LaneVerification) Matches(e LaneEntry) bool {
	return v.Version == e.Version && v.Previous == e.Previous && v.Mode == e.Mode
}

// Waiting says who the entry waits for, in words for status and list.
func (a LaneAnswer) Waiting(service string) string {
	return fmt.Sprintf("production lane of %s: %s holds it (queued %d)", service, a.Holder, a.Position)
}

// LeftLive is the version a release that ended left serving production: its own after it
// succeeded, else the version its way back returned traffic to.
func LeftLive(st Status) string {
	if st.State == StateSucceeded {
		return st.Version
	}
	if st.RollbackPlan != nil {
		return st.RollbackPlan.TargetVersion
	}
	return st.Previous
}
