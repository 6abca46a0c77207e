package checks

import "fmt"

func validateProbe(typ string, _ map[string]string) error {
	return fmt.Errorf("unknown probe check type %q", typ)
}
