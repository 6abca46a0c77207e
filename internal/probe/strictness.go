package probe

import (
	"fmt"
	"strings"

	"github.com/shipgate/shipgate/internal/evidence"
)

// AtLeastAsStrict returns nil when the value got of a param of a probe type (empty: absent) is
// at least as strict as the seed's value (empty: absent), and otherwise why not. Both values
// must be valid (ValidateParams); templates are compared as written.
func AtLeastAsStrict(typ, name, seed, got string) error {
	known, ok := types[typ]
	if !ok {
		return fmt.Errorf("probe: unknown check type %q", typ)
	}
	p, ok := known[name]
	if !ok {
		return fmt.Errorf("%s check: unknown param %q", typ, name)
	}
	sv, err := value(typ, name, p.stricter, seed)
	if err != nil {
		return err
	}
	gv, err := value(typ, name, p.stricter, got)
	if err != nil {
		return err
	}
	return evidence.CompareStrictness(p.stricter, name, sv, gv)
}

// value reads one raw param as the floors compare it.
func value(typ, name string, dir evidence.Stricter, raw string) (evidence.Value, error) {
	text := strings.TrimSpace(raw)
	if text == "" {
		return evidence.Unset(dir), nil
	}
	v := evidence.Value{Shown: text}
	switch dir {
	case evidence.Higher, evidence.Lower:
		n, err := number(typ, name, map[string]string{name: text})
		if err != nil {
			return v, err
		}
		v.Num = *n
	case evidence.Superset:
		sep := ","
		if name == "queries" {
			sep = "\n"
		}
		for item := range strings.SplitSeq(text, sep) {
			if item = strings.TrimSpace(item); item != "" {
				v.Items = append(v.Items, item)
			}
		}
		v.Shown = strings.Join(v.Items, ", ")
	}
	return v, nil
}
