package release

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shipgate/shipgate/internal/analysis"
)

// The named types change no byte of what is recorded: histories, statuses and policies read
// and write the same words as when these were plain strings.
func TestNamedValuesKeepTheirWords(t *testing.T) {
	v := struct {
		Gate     GateStatus              `json:"gate"`
		Window   WindowStatus            `json:"window"`
		Analysis AnalysisOutcome         `json:"analysis"`
		Result   CheckResult             `json:"result"`
		Failure  map[Stage]FailureAction `json:"onFailure"`
		Chain    Chain                   `json:"chain"`
	}{
		Gate:     GateStatus{ID: "G1", State: GateBlocked, Checks: []CheckStatus{{Name: "lint", State: CheckRejected}}},
		Window:   WindowStatus{Name: WindowCanaryWatch, State: WindowBroken},
		Analysis: AnalysisOutcome{Step: WindowCanaryWatch, Action: analysis.Promote},
		Result:   CheckResult{Outcome: OutcomeFail},
		Failure:  map[Stage]FailureAction{StageCanary: FailurePause},
		Chain:    Chain{Name: "sepolia", Role: ChainTestnet},
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"state":"blocked"`, `"state":"rejected"`, `"state":"broken-glass"`, `"action":"promote"`,
		`"outcome":"fail"`, `"onFailure":{"canary":"pause"}`, `"role":"testnet"`} {
		if !json.Valid(b) || !strings.Contains(string(b), want) {
			t.Errorf("%s: want %s", b, want)
		}
	}
}
