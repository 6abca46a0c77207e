package evidence

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// paramKind is the type of a policy param; values arrive as strings from YAML.
type paramKind int

const (
	kindPercent     paramKind = iota // a number from 0 to 100
	kindFraction                     // a number from 0 to 1, as k6 writes rates
	kindMillis                       // a non-negative number of milliseconds
	kindPositiveInt                  // an integer ≥ 1
	kindCount                        // an integer ≥ 0, or "unlimited"
	kindBool                         // true or false
	kindList                         // comma-separated non-empty names
	kindEnum                         // one of paramSpec.values
)

type paramSpec struct {
	kind   paramKind
	values []string // for kindEnum
	// def is the value an absent param takes, as a policy would write it; empty: no limit.
	def string
	// stricter is the way a value makes the check harder to pass (strictness.go).
	stricter Stricter
	doc      string
}

// unlimited is how a kindCount param that has no limit is stored.
const unlimited = -1

// params holds validated values; an absent param holds its spec's default, or is absent when
// it has none (no limit).
type params struct {
	nums  map[string]float64
	lists map[string][]string
	strs  map[string]string
}

func parseParams(checkType string, ct checkType, raw map[string]string) (params, error) {
	p := params{nums: map[string]float64{}, lists: map[string][]string{}, strs: map[string]string{}}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		spec, ok := ct.params[name]
		if !ok {
			spec, ok = commonParams[name]
		}
		if !ok {
			return p, fmt.Errorf("%s check: unknown param %q (known: %s)", checkType, name, strings.Join(paramNames(ct), ", "))
		}
		if err := p.set(name, spec, strings.TrimSpace(raw[name])); err != nil {
			return p, fmt.Errorf("%s check: param %s: %w", checkType, name, err)
		}
	}
	if err := p.setDefaults(ct); err != nil {
		return p, fmt.Errorf("%s check: %w", checkType, err)
	}
	if n, ok := p.nums["maxBytes"]; ok && n > DefaultMaxBytes {
		return p, fmt.Errorf("%s check: param maxBytes: %.0f is over the %d-byte ceiling; it may only lower the limit", checkType, n, DefaultMaxBytes)
	}
	return p, nil
}

// setDefaults gives every absent param that has a default its default.
func (p params) setDefaults(ct checkType) error {
	for _, specs := range []map[string]paramSpec{ct.params, commonParams} {
		for name, spec := range specs {
			if _, set := p.has(name); set || spec.def == "" {
				continue
			}
			if err := p.set(name, spec, spec.def); err != nil {
				return fmt.Errorf("default of param %s: %w", name, err)
			}
		}
	}
	return nil
}

// has reports whether the param holds a value, given or default.
func (p params) has(name string) (any, bool) {
	if v, ok := p.nums[name]; ok {
		return v, true
	}
	if v, ok := p.lists[name]; ok {
		return v, true
	}
	v, ok := p.strs[name]
	return v, ok
}

func paramNames(ct checkType) []string {
	var out []string
	for name := range ct.params {
		out = append(out, name)
	}
	for name := range commonParams {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func (p params) set(name string, spec paramSpec, v string) error {
	switch spec.kind {
	case kindPercent, kindFraction, kindMillis:
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a number", v)
		}
		hi := math.Inf(1)
		switch spec.kind {
		case kindPercent:
			hi = 100
		case kindFraction:
			hi = 1
		}
		if f < 0 || f > hi {
			return fmt.Errorf("%v is out of range [0, %v]", f, hi)
		}
		p.nums[name] = f
	case kindPositiveInt, kindCount:
		if spec.kind == kindCount && v == "unlimited" {
			p.nums[name] = unlimited
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			if spec.kind == kindCount {
				return fmt.Errorf("%q is not a whole number or \"unlimited\"", v)
			}
			return fmt.Errorf("%q is not a whole number", v)
		}
		if n < 0 || (spec.kind == kindPositiveInt && n == 0) {
			return fmt.Errorf("%d is too small", n)
		}
		p.nums[name] = float64(n)
	case kindBool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		p.nums[name] = 0
		if b {
			p.nums[name] = 1
		}
	case kindList:
		var items []string
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				return fmt.Errorf("%q has an empty name", v)
			}
			items = append(items, item)
		}
		p.lists[name] = items
	case kindEnum:
		for _, allowed := range spec.values {
			if v == allowed {
				p.strs[name] = v
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(spec.values, ", "))
	}
	return nil
}

// float returns a number param that has a default.
func (p params) float(name string) float64 { return p.nums[name] }

// optFloat returns the param and whether the policy set it.
func (p params) optFloat(name string) (float64, bool) {
	f, ok := p.nums[name]
	return f, ok
}

// int returns a whole-number param that has a default.
func (p params) int(name string) int { return int(p.nums[name]) }

func (p params) bool(name string) bool { return p.nums[name] == 1 }

func (p params) list(name string) []string { return p.lists[name] }

// str returns an enum param that has a default.
func (p params) str(name string) string { return p.strs[name] }
