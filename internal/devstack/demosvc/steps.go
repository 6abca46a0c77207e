package demosvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// A Step is one traffic change by its effect: an environment's split moved to Percent of
// Version (from PreviousVersion). The demo service counts, per step, the distinct
// Idempotency-Keys that applied it and every request for it, so that a caller's retries can
// be checked from outside: a step applied exactly once has Keys 1 however many Requests its
// retries made (GET /v1/traffic/steps). A step's identity is its effect, not the caller's
// key, so a caller that sent one change under two keys shows Keys 2.
type Step struct {
	Environment     string  `json:"environment"`
	Version         string  `json:"version"`
	PreviousVersion string  `json:"previousVersion"`
	Percent         float64 `json:"percent"`
	// Keys counts the distinct Idempotency-Keys that applied this step (replays excluded).
	Keys int `json:"keys"`
	// Requests counts every request for the step: first applications and replays.
	Requests int `json:"requests"`
	// FirstAppliedAt and LastAppliedAt are when a key first and last applied it.
	FirstAppliedAt time.Time `json:"firstAppliedAt"`
	LastAppliedAt  time.Time `json:"lastAppliedAt"`
}

// A Refusal is a traffic request the demo service refused because of an injected TrafficFault.
type Refusal struct {
	TrafficRequest
	IdempotencyKey string    `json:"idempotencyKey"`
	Status         int       `json:"status"`
	At             time.Time `json:"at"`
}

// StepLog is the answer to GET /v1/traffic/steps: every step applied since the process
// started (oldest first) and every injected refusal. It lives in memory: a restart of the
// demo service starts a new log (the split and the idempotency records survive in the state
// file).
type StepLog struct {
	Steps    []Step    `json:"steps"`
	Refusals []Refusal `json:"refusals"`
}

// maxLoggedSteps bounds the step log and the refusal log (oldest dropped first).
const maxLoggedSteps = 1000

func (r TrafficRequest) step() Step {
	return Step{Environment: r.Environment, Version: r.Version, PreviousVersion: r.PreviousVersion, Percent: r.Percent}
}

func (s Step) same(o Step) bool {
	return s.Environment == o.Environment && s.Version == o.Version && s.PreviousVersion == o.PreviousVersion && s.Percent == o.Percent
}

// record counts one request for req's step at time at; fresh says a key applied it (not a
// replay). Callers hold the server's lock.
func (l *StepLog) record(req TrafficRequest, fresh bool, at time.Time) {
	want := req.step()
	i := slices.IndexFunc(l.Steps, want.same)
	if i < 0 {
		if len(l.Steps) >= maxLoggedSteps {
			l.Steps = slices.Delete(l.Steps, 0, 1)
		}
		l.Steps = append(l.Steps, want)
		i = len(l.Steps) - 1
	}
	st := &l.Steps[i]
	st.Requests++
	if fresh {
		st.Keys++
		if st.FirstAppliedAt.IsZero() {
			st.FirstAppliedAt = at
		}
		st.LastAppliedAt = at
	}
}

func (l *StepLog) refuse(r Refusal) {
	if len(l.Refusals) >= maxLoggedSteps {
		l.Refusals = slices.Delete(l.Refusals, 0, 1)
	}
	l.Refusals = append(l.Refusals, r)
}

// A TrafficFault makes the traffic webhook itself fail: requests that move Environment to
// Percent are answered Status (a 4xx or 5xx) instead of being applied, Times times (0: until
// cleared). It is the body of POST /v1/traffic/faults; a later fault for the same
// environment and percent replaces the earlier one.
type TrafficFault struct {
	Environment string  `json:"environment"`
	Percent     float64 `json:"percent"`
	Status      int     `json:"status"`
	Times       int     `json:"times"`
}

// maxFaultTimes bounds TrafficFault.Times: a fault is for a test or a demo, not a counter.
const maxFaultTimes = 1000

type wireTrafficFault struct {
	Environment string   `json:"environment"`
	Percent     *float64 `json:"percent"`
	Status      int      `json:"status"`
	Times       int      `json:"times"`
}

// DecodeTrafficFault reads and validates a POST /v1/traffic/faults body; errors name the
// field at fault or the byte offset.
func DecodeTrafficFault(data []byte) (TrafficFault, error) {
	if len(data) > MaxRequestBytes {
		return TrafficFault{}, fmt.Errorf("request body is %d bytes; the limit is %d", len(data), MaxRequestBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return TrafficFault{}, errors.New("request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wireTrafficFault
	if err := dec.Decode(&w); err != nil {
		return TrafficFault{}, describeJSONError(err)
	}
	if off := dec.InputOffset(); hasTrailingData(dec) {
		return TrafficFault{}, fmt.Errorf("unexpected data after the JSON object at byte offset %d", off)
	}
	if w.Percent == nil {
		return TrafficFault{}, &FieldError{"percent", "required (0 to 100): the step that fails"}
	}
	f := TrafficFault{Environment: w.Environment, Percent: *w.Percent, Status: w.Status, Times: w.Times}
	return f, f.Validate()
}

// Validate checks a traffic fault's fields.
func (f TrafficFault) Validate() error {
	if !slices.Contains(Environments, f.Environment) {
		return &FieldError{"environment", fmt.Sprintf("%q is not one of %s", f.Environment, strings.Join(Environments, ", "))}
	}
	if math.IsNaN(f.Percent) || f.Percent < 0 || f.Percent > 100 {
		return &FieldError{"percent", fmt.Sprintf("must be between 0 and 100, got %v", f.Percent)}
	}
	if f.Status < 400 || f.Status > 599 {
		return &FieldError{"status", fmt.Sprintf("must be an HTTP error status (400 to 599), got %d", f.Status)}
	}
	if f.Times < 0 || f.Times > maxFaultTimes {
		return &FieldError{"times", fmt.Sprintf("must be between 0 (until cleared) and %d, got %d", maxFaultTimes, f.Times)}
	}
	return nil
}

func (f TrafficFault) matches(r TrafficRequest) bool {
	return f.Environment == r.Environment && f.Percent == r.Percent
}
