// Package checks is the catalogue of automated check types: it validates a policy's evidence
// and probe checks against the packages that evaluate them, so a policy naming an unknown type
// or a wrong parameter fails validation instead of passing silently.
package checks

import (
	"fmt"

	"github.com/shipgate/shipgate/internal/evidence"
	"github.com/shipgate/shipgate/internal/probe"
	"github.com/shipgate/shipgate/internal/release"
)

// Validate is a release.CheckTypes for the types shipgate knows.
func Validate(kind release.CheckKind, typ string, params map[string]string) error {
	switch kind {
	case release.KindEvidence:
		return evidence.ValidateParams(typ, params)
	case release.KindProbe:
		return validateProbe(typ, params)
	}
	return fmt.Errorf("check kind %q takes no type", kind)
}

var _ release.CheckTypes = Validate

// Floor is a release.ParamFloor for the types shipgate knows: each param's catalogue says
// which way it is stricter (evidence.AtLeastAsStrict, probe.AtLeastAsStrict).
func Floor(kind release.CheckKind, typ, param, seed, got string) error {
	switch kind {
	case release.KindEvidence:
		return evidence.AtLeastAsStrict(typ, param, seed, got)
	case release.KindProbe:
		return probe.AtLeastAsStrict(typ, param, seed, got)
	}
	return fmt.Errorf("check kind %q takes no params", kind)
}

// Linking the catalogue in gives release's production floors the params' directions.
func init() { release.RegisterParamFloor(Floor) }
