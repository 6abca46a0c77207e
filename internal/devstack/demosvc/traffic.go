// Package demosvc is the embedded demo service of the local stack: one process that plays a
// whole service with several versions. It takes shipgate's webhook traffic backend calls
// (POST /v1/traffic), splits the requests it routes between a stable and a canary version by
// weight, can be told to inject errors and latency into one version (POST /v1/faults), and
// exposes the RED metrics that the canary analysis reads (GET /metrics). The versions are
// simulated in-process: every version answers, so a demo needs no second binary.
package demosvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Environments lists the environments a traffic request may name, in lifecycle order.
var Environments = []string{"staging", "testnet", "canary", "production"}

// MaxRequestBytes bounds a webhook request body; a real one is about 130 bytes.
const MaxRequestBytes = 64 << 10

// namePattern is what a service or version name may look like: semver and build tags pass,
// while spaces, slashes and quotes (which would break label values and URLs) do not.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)

// TrafficRequest is the body shipgate's webhook traffic backend POSTs to /v1/traffic.
// Percent is the share of traffic for Version; the rest goes to PreviousVersion.
// Percent 0 rolls back (all traffic to PreviousVersion); 100 promotes Version to stable.
type TrafficRequest struct {
	Service         string  `json:"service"`
	Version         string  `json:"version"`
	PreviousVersion string  `json:"previousVersion"`
	Environment     string  `json:"environment"`
	Percent         float64 `json:"percent"`
}

// wireRequest tells a missing percent from percent 0: a body that forgot the field must be
// refused, not read as a rollback.
type wireRequest struct {
	Service         string   `json:"service"`
	Version         string   `json:"version"`
	PreviousVersion string   `json:"previousVersion"`
	Environment     string   `json:"environment"`
	Percent         *float64 `json:"percent"`
}

// FieldError says which field of a request or state file is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// DecodeTrafficRequest reads one JSON object from data and validates it. Unknown fields are
// refused so that a misspelt field ("prevVersion") is reported instead of ignored. Errors
// name the field or the byte offset at fault.
func DecodeTrafficRequest(data []byte) (TrafficRequest, error) {
	if len(data) > MaxRequestBytes {
		return TrafficRequest{}, fmt.Errorf("request body is %d bytes; the limit is %d", len(data), MaxRequestBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return TrafficRequest{}, errors.New("request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wireRequest
	if err := dec.Decode(&w); err != nil {
		return TrafficRequest{}, describeJSONError(err)
	}
	if off := dec.InputOffset(); hasTrailingData(dec) {
		return TrafficRequest{}, fmt.Errorf("unexpected data after the JSON object at byte offset %d", off)
	}
	if w.Percent == nil {
		return TrafficRequest{}, &FieldError{"percent", "required (0 to 100)"}
	}
	req := TrafficRequest{
		Service:         w.Service,
		Version:         w.Version,
		PreviousVersion: w.PreviousVersion,
		Environment:     w.Environment,
		Percent:         *w.Percent,
	}
	return req, req.Validate()
}

// hasTrailingData reports whether anything but white space follows the first JSON value.
func hasTrailingData(dec *json.Decoder) bool {
	_, err := dec.Token()
	return err != io.EOF
}

// describeJSONError turns encoding/json errors into messages that name the field or the
// offset, without the "json: " prefix a webhook caller cannot act on.
func describeJSONError(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("invalid JSON at byte offset %d: %s", syntaxErr.Offset, strings.TrimPrefix(syntaxErr.Error(), "json: "))
	case errors.As(err, &typeErr) && typeErr.Field != "" && jsonKind(typeErr.Type) == "number" && strings.HasPrefix(typeErr.Value, "number"):
		if k := typeErr.Type.Kind(); k == reflect.Float64 || k == reflect.Pointer {
			return &FieldError{typeErr.Field, fmt.Sprintf("%s is out of range", typeErr.Value)}
		}
		return &FieldError{typeErr.Field, fmt.Sprintf("want a whole number in range, got %s", typeErr.Value)}
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return &FieldError{typeErr.Field, fmt.Sprintf("want a JSON %s, got a JSON %s", jsonKind(typeErr.Type), typeErr.Value)}
	case errors.As(err, &typeErr):
		return fmt.Errorf("want a JSON object, got a JSON %s", typeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: the body ends before the object is complete")
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names the JSON type a Go type decodes from, for error messages.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Bool:
		return "boolean"
	}
	return t.String()
}

// Validate checks every field of a decoded request.
func (r TrafficRequest) Validate() error {
	if err := checkName("service", r.Service); err != nil {
		return err
	}
	if err := checkName("version", r.Version); err != nil {
		return err
	}
	if err := checkName("previousVersion", r.PreviousVersion); err != nil {
		return err
	}
	if r.Version == r.PreviousVersion {
		return &FieldError{"previousVersion", fmt.Sprintf("must differ from version (both are %q)", r.Version)}
	}
	if !slices.Contains(Environments, r.Environment) {
		if r.Environment == "" {
			return &FieldError{"environment", "required; one of " + strings.Join(Environments, ", ")}
		}
		return &FieldError{"environment", fmt.Sprintf("%q is not one of %s", r.Environment, strings.Join(Environments, ", "))}
	}
	if math.IsNaN(r.Percent) || r.Percent < 0 || r.Percent > 100 {
		return &FieldError{"percent", fmt.Sprintf("must be between 0 and 100, got %v", r.Percent)}
	}
	return nil
}

func checkName(field, value string) error {
	if value == "" {
		return &FieldError{field, "required"}
	}
	if !namePattern.MatchString(value) {
		return &FieldError{field, fmt.Sprintf("%q is not a valid name (letters, digits, '.', '_', '+', '-'; at most 64; starting with a letter or digit)", value)}
	}
	return nil
}

// Split is how one environment divides its traffic: CanaryPercent of requests go to Canary,
// the rest to Stable. Canary is empty exactly when CanaryPercent is 0.
type Split struct {
	Stable        string  `json:"stable"`
	Canary        string  `json:"canary,omitempty"`
	CanaryPercent float64 `json:"canaryPercent"`
}

// Apply returns the split after a traffic request. The request is authoritative (it names
// both versions) so that a rollback after a promotion still lands on the previous version.
func (s Split) Apply(r TrafficRequest) Split {
	switch r.Percent {
	case 0:
		return Split{Stable: r.PreviousVersion}
	case 100:
		return Split{Stable: r.Version}
	}
	return Split{Stable: r.PreviousVersion, Canary: r.Version, CanaryPercent: r.Percent}
}

// Pick chooses the version for one request; u must be uniform in [0, 1).
func (s Split) Pick(u float64) string {
	if s.Canary != "" && u*100 < s.CanaryPercent {
		return s.Canary
	}
	return s.Stable
}

// Shares returns each version's percent of traffic, for the traffic gauge.
func (s Split) Shares() map[string]float64 {
	shares := map[string]float64{s.Stable: 100 - s.CanaryPercent}
	if s.Canary != "" {
		shares[s.Canary] = s.CanaryPercent
	}
	return shares
}

// validate checks a split read from a state file; field prefixes the field names.
func (s Split) validate(field string) error {
	if err := checkName(field+".stable", s.Stable); err != nil {
		return err
	}
	if math.IsNaN(s.CanaryPercent) || s.CanaryPercent < 0 || s.CanaryPercent >= 100 {
		return &FieldError{field + ".canaryPercent", fmt.Sprintf("must be at least 0 and below 100, got %v", s.CanaryPercent)}
	}
	if s.Canary == "" {
		if s.CanaryPercent != 0 {
			return &FieldError{field + ".canary", fmt.Sprintf("required when canaryPercent is %v", s.CanaryPercent)}
		}
		return nil
	}
	if err := checkName(field+".canary", s.Canary); err != nil {
		return err
	}
	if s.Canary == s.Stable {
		return &FieldError{field + ".canary", fmt.Sprintf("must differ from stable (both are %q)", s.Stable)}
	}
	if s.CanaryPercent == 0 {
		return &FieldError{field + ".canaryPercent", "must be above 0 when a canary is set"}
	}
	return nil
}
