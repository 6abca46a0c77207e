package release

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"time"

	"github.com/shipgate/shipgate/internal/analysis"
)

// AnalyzeRequest measures one interval of an analysis and folds it into the run. With Until
// set, the activity first watches the SLO alerts until then and returns at once when one fires.
type AnalyzeRequest struct {
	Spec  analysis.Spec `json:"spec"`
	Vars  analysis.Vars `json:"vars"`
	Run   analysis.Run  `json:"run"`
	Until time.Time     `json:"until,omitzero"`
}

// AnalyzeResult is the run after the interval, its decision, and a compact line per metric.
type AnalyzeResult struct {
	Run      analysis.Run      `json:"run"`
	Decision analysis.Decision `json:"decision"`
	Summary  []string          `json:"summary"`
	// Record is the interval in compact form for the analysis's log.
	Record *analysis.IntervalRecord `json:"record,omitempty"`
}

// AnalysisInput starts (or continues as new) the analysis of one stage or step.
type AnalysisInput struct {
	ReleaseID string        `json:"releaseId"`
	Step      string        `json:"step"` // canary, production-25, ...
	Spec      analysis.Spec `json:"spec"`
	Vars      analysis.Vars `json:"vars"`
	Interval  time.Duration `json:"interval"`
	Min       time.Duration `json:"min"` // earliest promotion
	Max       time.Duration `json:"max"` // the watch ends here
	StartedAt time.Time     `json:"startedAt"`
	Run       analysis.Run  `json:"run"`
	Summary   []string      `json:"summary,omitempty"`
	// Recent is the analysis's log of the latest intervals, carried through continue-as-new.
	Recent []analysis.IntervalRecord `json:"recent,omitempty"`
	// Channel is where the release's notices go (the manifest's or the policy's).
	Channel string `json:"channel,omitempty"`
	// IntervalsPerRun is how many intervals a run measures before it continues as new; zero
	// means the workflow's default (400). Tests shorten it to see several runs quickly.
	IntervalsPerRun int `json:"intervalsPerRun,omitempty"`
}

// AnalysisOutcome is how an analysis ended (promote, rollback or pause, and why) or, while it
// runs ("running"), where it is: the child's status query answers one.
type AnalysisOutcome struct {
	Step      string          `json:"step"`
	Action    analysis.Action `json:"action"`
	Reason    string          `json:"reason"`
	Intervals int             `json:"intervals"`
	Summary   []string        `json:"summary,omitempty"`
	// WorkflowID is the analysis child's, whose status query has the live view.
	WorkflowID string `json:"workflowId,omitempty"`
	// Metrics holds each metric's budgets, counts, timeline and latest verdict (with its
	// rendered query, values, threshold and rule).
	Metrics []analysis.MetricState `json:"metrics,omitempty"`
	// Recent is the compact log of the latest intervals (the running child's view only).
	Recent []analysis.IntervalRecord `json:"recent,omitempty"`
}

// Evidence is the outcome's audit evidence: one line per metric covering every interval.
func (o AnalysisOutcome) Evidence() []string {
	var out []string
	for _, m := range o.Metrics {
		out = append(out, m.Summary())
	}
	return out
}

// Outcome is the verdict an automated check reports.
type Outcome string

// Check outcomes.
const (
	OutcomePass  Outcome = "pass"
	OutcomeFail  Outcome = "fail"
	OutcomeError Outcome = "error"
)

// CheckRequest asks for one automated check's verdict.
type CheckRequest struct {
	ReleaseID   string `json:"releaseId"`
	Service     string `json:"service"`
	Version     string `json:"version"`
	Environment string `json:"environment"`
	Gate        string `json:"gate"`
	Check       Check  `json:"check"`
	// Commit is the manifest's commit: reports that name a revision must name it.
	Commit string `json:"commit,omitempty"`
	// Blobs is the check's evidence in the evidence store: all the worker reads.
	Blobs []Blob `json:"blobs,omitempty"`
	// Evidence is how releases before the evidence store named evidence (paths and URLs);
	// kept so their histories decode. The worker opens none of them.
	Evidence []string `json:"evidence,omitempty"`
	Attempt  int      `json:"attempt"`
}

// CheckResult is the verdict with a human detail line and the digests of what was read.
type CheckResult struct {
	Outcome  Outcome          `json:"outcome"`
	Detail   string           `json:"detail"`
	Evidence []EvidenceDigest `json:"evidence,omitempty"`
}

// TrafficRequest deploys a version to an environment and gives it a share of the traffic; the
// rest goes to PreviousVersion. The idempotency key makes a retried request harmless.
type TrafficRequest struct {
	Backend         Traffic `json:"backend"`
	Service         string  `json:"service"`
	Version         string  `json:"version"`
	PreviousVersion string  `json:"previousVersion"`
	Environment     string  `json:"environment"`
	Percent         float64 `json:"percent"`
	IdempotencyKey  string  `json:"idempotencyKey"`
	// Rollback marks the way back: every error, a refusal (4xx) or a configuration error too,
	// is retried, since a person can fix the backend or the worker while the release waits.
	Rollback bool `json:"rollback,omitempty"`
}

// Notice kinds.
const (
	NoticeStage    = "stage"
	NoticeWindow   = "window"
	NoticeGate     = "gate"
	NoticeIssue    = "issue"
	NoticeRollback = "rollback"
	NoticeAbort    = "abort"
	NoticeDone     = "done"
	// NoticeAnalysis: a failing verdict, or an analysis that needs a person.
	NoticeAnalysis = "analysis"
	// NoticeGovernance: a governed upgrade's proposal, for the Safe owners to check and approve.
	NoticeGovernance = "governance"
)

// Notice is a notification for people following a release (Slack thread, or the log).
type Notice struct {
	ReleaseID string    `json:"releaseId"`
	Channel   string    `json:"channel,omitempty"`
	Kind      string    `json:"kind"`
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
	Key       string    `json:"key"` // idempotency: one notice per key
}

// Fingerprint identifies what an approver was shown for a signoff: the gate, the check and
// the digests of the gate's evidence. If the evidence changes (a recheck), so does it.
func Fingerprint(gate, check string, evidenceDigests []string) string {
	d := append([]string(nil), evidenceDigests...)
	sort.Strings(d)
	sum := sha256.Sum256([]byte(gate + "\x00" + check + "\x00" + strings.Join(d, "\x00")))
	return hex.EncodeToString(sum[:8])
}
