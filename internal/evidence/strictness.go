package evidence

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Stricter is the way a check param's value makes its check harder to pass. A production
// policy may move a value of the seed policy's only this way (internal/release's floors, which
// reach this table through internal/checks): stricter than the seed, never looser.
type Stricter int

const (
	// undeclared is a param nobody ordered: compared as Same, so that it fails closed.
	undeclared Stricter = iota
	// AnyValue moves no threshold (an input format, a size cap that can only be lowered).
	AnyValue
	// Higher: a larger number is stricter (min, minPassRate, minReports; true above false).
	// Unset with no default is no minimum at all.
	Higher
	// Lower: a smaller number is stricter (maxErrors, maxP95Ms, maxFailRate). Unset with no
	// default, or "unlimited", is no limit at all.
	Lower
	// Superset: a list is at least as strict when it keeps every item of the seed's
	// (platforms, reports, queries): more items are more to pass.
	Superset
	// Subset: a list of what is accepted is at least as strict when it accepts nothing the
	// seed's does not (tools); unset accepts anything.
	Subset
	// Same: any change could weaken the check (a query, a URL), so the value must stay.
	Same
)

// Value is one param value as the floors compare it.
type Value struct {
	Shown string   // as written, or "unset (default 0)" / "unset (no limit)" when absent
	Num   float64  // for Higher and Lower: the number, ±Inf for no limit
	Items []string // for Superset: the items
}

// CompareStrictness returns nil when got is at least as strict as seed in direction dir, and
// otherwise the reason, e.g. "70 is below the seed's 80 (a higher min is stricter)".
func CompareStrictness(dir Stricter, param string, seed, got Value) error {
	switch dir {
	case AnyValue:
		return nil
	case Higher:
		if got.Num < seed.Num {
			return fmt.Errorf("%s is below the seed's %s (a higher %s is stricter)", got.Shown, seed.Shown, param)
		}
	case Lower:
		if got.Num > seed.Num {
			return fmt.Errorf("%s is above the seed's %s (a lower %s is stricter)", got.Shown, seed.Shown, param)
		}
	case Superset:
		var missing []string
		for _, item := range seed.Items {
			if !slices.Contains(got.Items, item) {
				missing = append(missing, item)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%s leaves out the seed's %s (every item of the seed's %s must stay)", got.Shown, strings.Join(missing, ", "), param)
		}
	case Subset:
		if len(seed.Items) == 0 {
			return nil // the seed accepts anything
		}
		if len(got.Items) == 0 {
			return fmt.Errorf("%s accepts anything, the seed only %s", got.Shown, strings.Join(seed.Items, ", "))
		}
		var extra []string
		for _, item := range got.Items {
			if !slices.Contains(seed.Items, item) {
				extra = append(extra, item)
			}
		}
		if len(extra) > 0 {
			return fmt.Errorf("%s accepts %s, which the seed's %s does not", got.Shown, strings.Join(extra, ", "), param)
		}
	default: // Same, and undeclared: fail closed
		if got.Shown != seed.Shown {
			return fmt.Errorf("%s differs from the seed's %s (any change to %s could weaken the check)", got.Shown, seed.Shown, param)
		}
	}
	return nil
}

// Unset is the Value of an absent param with no default.
func Unset(dir Stricter) Value {
	switch dir {
	case Lower:
		return Value{Shown: "unset (no limit)", Num: math.Inf(1)}
	case Higher:
		return Value{Shown: "unset (no minimum)", Num: math.Inf(-1)}
	}
	return Value{Shown: "unset"}
}

// AtLeastAsStrict returns nil when the value got of a param of an evidence check type (empty:
// absent, so its default) is at least as strict as the seed's value (empty: absent), and
// otherwise why not. Both values must be valid (ValidateParams).
func AtLeastAsStrict(checkType, param, seed, got string) error {
	ct, ok := checkTypes[checkType]
	if !ok {
		return fmt.Errorf("unknown evidence check type %q", checkType)
	}
	spec, ok := ct.params[param]
	if !ok {
		spec, ok = commonParams[param]
	}
	if !ok {
		return fmt.Errorf("%s check: unknown param %q", checkType, param)
	}
	sv, err := spec.value(param, seed)
	if err != nil {
		return fmt.Errorf("%s check: seed's param %s: %w", checkType, param, err)
	}
	gv, err := spec.value(param, got)
	if err != nil {
		return fmt.Errorf("%s check: param %s: %w", checkType, param, err)
	}
	return CompareStrictness(spec.stricter, param, sv, gv)
}

// value reads raw (empty: the default) as the floors compare it.
func (spec paramSpec) value(name, raw string) (Value, error) {
	text := strings.TrimSpace(raw)
	shown := text
	if text == "" {
		if spec.def == "" {
			return Unset(spec.stricter), nil
		}
		text, shown = spec.def, "unset (default "+spec.def+")"
	}
	p := params{nums: map[string]float64{}, lists: map[string][]string{}, strs: map[string]string{}}
	if err := p.set(name, spec, text); err != nil {
		return Value{}, err
	}
	v := Value{Shown: shown, Num: p.nums[name], Items: p.lists[name]}
	if spec.kind == kindCount && v.Num == unlimited {
		v.Num = math.Inf(1)
	}
	return v, nil
}
