package demosvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// MaxFaultLatencyMs bounds injected latency: enough to break any sane latency SLO, short
// enough that a forgotten fault does not hang a demo.
const MaxFaultLatencyMs = 60_000

// Fault makes one version misbehave: ErrorRate of its requests (0 to 1) answer 500, and each
// request is delayed by LatencyMs first. It is the body of POST /v1/faults.
type Fault struct {
	Version   string  `json:"version"`
	ErrorRate float64 `json:"errorRate"`
	LatencyMs int     `json:"latencyMs"`
}

// DecodeFault reads and validates a POST /v1/faults body; errors name the field at fault.
func DecodeFault(data []byte) (Fault, error) {
	if len(data) > MaxRequestBytes {
		return Fault{}, fmt.Errorf("request body is %d bytes; the limit is %d", len(data), MaxRequestBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Fault{}, errors.New("request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f Fault
	if err := dec.Decode(&f); err != nil {
		return Fault{}, describeJSONError(err)
	}
	if off := dec.InputOffset(); hasTrailingData(dec) {
		return Fault{}, fmt.Errorf("unexpected data after the JSON object at byte offset %d", off)
	}
	return f, f.Validate()
}

// Validate checks a fault's fields.
func (f Fault) Validate() error {
	if err := checkName("version", f.Version); err != nil {
		return err
	}
	if math.IsNaN(f.ErrorRate) || f.ErrorRate < 0 || f.ErrorRate > 1 {
		return &FieldError{"errorRate", fmt.Sprintf("must be between 0 and 1 (a fraction, not a percent), got %v", f.ErrorRate)}
	}
	if f.LatencyMs < 0 || f.LatencyMs > MaxFaultLatencyMs {
		return &FieldError{"latencyMs", fmt.Sprintf("must be between 0 and %d, got %d", MaxFaultLatencyMs, f.LatencyMs)}
	}
	return nil
}
