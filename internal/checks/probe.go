package checks

import "github.com/shipgate/shipgate/internal/probe"

func validateProbe(typ string, params map[string]string) error {
	return probe.ValidateParams(typ, params)
}
