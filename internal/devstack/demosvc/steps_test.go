package demosvc

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func getSteps(t *testing.T, base string) StepLog {
	t.Helper()
	a := do(t, http.MethodGet, base+"/v1/traffic/steps", "", "")
	if a.status != http.StatusOK {
		t.Fatalf("GET /v1/traffic/steps: %d %s", a.status, a.body)
	}
	var l StepLog
	if err := json.Unmarshal([]byte(a.body), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// A retried step under one key counts one key and every request; the same step under a
// second key counts two keys: what a chaos run checks to prove a step was applied once.
func TestStepLogCountsKeysPerStep(t *testing.T) {
	_, base := startServer(t, testConfig(t))
	if l := getSteps(t, base); len(l.Steps) != 0 || l.Refusals == nil {
		t.Fatalf("fresh step log %+v", l)
	}
	mustApply(t, base, "r/1/canary", "production", 2)
	mustApply(t, base, "r/1/canary", "production", 2) // a retry: replayed
	mustApply(t, base, "r/1/p5", "production", 5)
	mustApply(t, base, "r/1/p5-again", "production", 5) // the same change under another key
	l := getSteps(t, base)
	if len(l.Steps) != 2 {
		t.Fatalf("steps %+v, want 2", l.Steps)
	}
	if s := l.Steps[0]; s.Percent != 2 || s.Keys != 1 || s.Requests != 2 || s.Environment != "production" || s.Version != "1.4.0" || s.PreviousVersion != "1.3.0" {
		t.Errorf("canary step %+v, want 1 key, 2 requests", s)
	}
	if s := l.Steps[1]; s.Percent != 5 || s.Keys != 2 || s.Requests != 2 || s.LastAppliedAt.Before(s.FirstAppliedAt) {
		t.Errorf("5 %% step %+v, want 2 keys", s)
	}
}

// An injected traffic fault refuses only its step, as many times as it says, and logs each
// refusal; the way back (percent 0) is not refused.
func TestTrafficFaultRefusesOneStep(t *testing.T) {
	_, base := startServer(t, testConfig(t))
	if a := do(t, http.MethodPost, base+"/v1/traffic/faults", "", `{"environment":"production","percent":25,"status":422,"times":1}`); a.status != http.StatusOK {
		t.Fatalf("POST /v1/traffic/faults: %d %s", a.status, a.body)
	}
	mustApply(t, base, "k5", "production", 5)
	a := do(t, http.MethodPost, base+"/v1/traffic", "k25", trafficBody("production", 25))
	if a.status != 422 || !strings.Contains(a.body, "injected traffic fault") {
		t.Fatalf("faulted step: %d %s", a.status, a.body)
	}
	mustApply(t, base, "k0", "production", 0)
	mustApply(t, base, "k25", "production", 25) // the fault was for one time only
	if a := do(t, http.MethodGet, base+"/v1/traffic/faults", "", ""); !strings.Contains(a.body, `"faults": []`) {
		t.Fatalf("spent fault still listed: %s", a.body)
	}
	l := getSteps(t, base)
	if len(l.Refusals) != 1 || l.Refusals[0].Percent != 25 || l.Refusals[0].Status != 422 || l.Refusals[0].IdempotencyKey != "k25" || l.Refusals[0].At.IsZero() {
		t.Fatalf("refusals %+v", l.Refusals)
	}
	// until cleared
	do(t, http.MethodPost, base+"/v1/traffic/faults", "", `{"environment":"production","percent":100,"status":503}`)
	for range 3 {
		if a := do(t, http.MethodPost, base+"/v1/traffic", "k100", trafficBody("production", 100)); a.status != 503 {
			t.Fatalf("standing fault: %d %s", a.status, a.body)
		}
	}
	if a := do(t, http.MethodDelete, base+"/v1/traffic/faults", "", ""); a.status != http.StatusNoContent {
		t.Fatalf("DELETE /v1/traffic/faults: %d", a.status)
	}
	mustApply(t, base, "k100", "production", 100)
	if a := do(t, http.MethodPost, base+"/v1/traffic/faults", "", `{"environment":"prod","percent":5,"status":422}`); a.status != http.StatusBadRequest || !strings.Contains(a.body, "environment:") {
		t.Fatalf("bad fault: %d %s", a.status, a.body)
	}
}

func TestDecodeTrafficFault(t *testing.T) {
	tests := []struct {
		body    string
		want    TrafficFault
		wantErr string
	}{
		{body: `{"environment":"production","percent":25,"status":422}`, want: TrafficFault{"production", 25, 422, 0}},
		{body: `{"environment":"testnet","percent":100,"status":503,"times":3}`, want: TrafficFault{"testnet", 100, 503, 3}},
		{body: `{"environment":"production","status":422}`, wantErr: "percent: required"},
		{body: `{"environment":"prod","percent":5,"status":422}`, wantErr: `environment: "prod" is not one of`},
		{body: `{"environment":"production","percent":101,"status":422}`, wantErr: "percent: must be between 0 and 100, got 101"},
		{body: `{"environment":"production","percent":5,"status":200}`, wantErr: "status: must be an HTTP error status (400 to 599), got 200"},
		{body: `{"environment":"production","percent":5,"status":422,"times":-1}`, wantErr: "times: must be between 0"},
		{body: `{"environment":"production","percent":5,"status":"422"}`, wantErr: "status: want a JSON number, got a JSON string"},
		{body: `{"environment":"production","percent":5,"status":422,"code":1}`, wantErr: `unknown field "code"`},
		{body: `{"environment":"production","percent":5,"status":422} x`, wantErr: "unexpected data after the JSON object"},
		{body: ` `, wantErr: "request body is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			got, err := DecodeTrafficFault([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("DecodeTrafficFault = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzDecodeTrafficFault(f *testing.F) {
	for _, seed := range []string{
		`{"environment":"production","percent":25,"status":422}`, `{"environment":"testnet","percent":100,"status":503,"times":3}`,
		`{"percent":1e400}`, `{"status":99999999999999999999}`, `{}`, `[`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fault, err := DecodeTrafficFault(data)
		if err == nil {
			if err := fault.Validate(); err != nil {
				t.Fatalf("accepted a fault that does not validate: %v", err)
			}
		}
	})
}
