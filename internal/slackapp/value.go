package slackapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Limits on what a button value or modal metadata may carry. Slack caps a
// button value at 2000 characters and private_metadata at 3000; ours stay
// well under both so a value that is too long is a sign of tampering or a bug.
const (
	maxReleaseIDLen   = 200
	maxCheckLen       = 200
	maxFingerprintLen = 128
	maxResponseURLLen = 1000
)

// ActionValue is what an Approve or Reject button carries back to us, and
// (with the response URL of the click) what the Reject modal keeps in its
// private_metadata. Short JSON keys keep it compact.
type ActionValue struct {
	ReleaseID   string `json:"r"`
	Check       string `json:"c"`
	Fingerprint string `json:"f"`
	// ResponseURL is set only in the Reject modal's metadata: view
	// submissions carry no response_url of their own, so the one from the
	// click that opened the modal is kept to answer the approver later.
	ResponseURL string `json:"u,omitempty"`
}

// Encode returns the compact JSON form used as a button value.
func (v ActionValue) Encode() string {
	b, err := json.Marshal(v)
	if err != nil {
		// Marshalling a struct of strings cannot fail.
		panic(err)
	}
	return string(b)
}

// ParseActionValue decodes a button value or modal private_metadata. The
// error names the field that is missing or malformed; what names the
// source ("button value", "private_metadata") for that message.
func ParseActionValue(what, s string) (ActionValue, error) {
	var v ActionValue
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return ActionValue{}, fmt.Errorf("%s: not a shipgate action value: %w", what, err)
	}
	if rest := strings.TrimSpace(s[dec.InputOffset():]); rest != "" {
		return ActionValue{}, fmt.Errorf("%s: trailing data at byte %d after the JSON object", what, dec.InputOffset())
	}
	if err := v.validate(); err != nil {
		return ActionValue{}, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

func (v ActionValue) validate() error {
	var errs []error
	field := func(name, val string, max int, required bool) {
		switch {
		case required && strings.TrimSpace(val) == "":
			errs = append(errs, fmt.Errorf("field %q is empty", name))
		case len(val) > max:
			errs = append(errs, fmt.Errorf("field %q is %d bytes, over the limit of %d", name, len(val), max))
		case bytes.ContainsAny([]byte(val), "\x00\r\n"):
			errs = append(errs, fmt.Errorf("field %q contains control characters", name))
		}
	}
	field("r", v.ReleaseID, maxReleaseIDLen, true)
	field("c", v.Check, maxCheckLen, true)
	field("f", v.Fingerprint, maxFingerprintLen, true)
	field("u", v.ResponseURL, maxResponseURLLen, false)
	return errors.Join(errs...)
}
