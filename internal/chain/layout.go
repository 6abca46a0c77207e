package chain

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// StorageLayout is solc's storageLayout output (settings.outputSelection "storageLayout").
type StorageLayout struct {
	Storage []StorageVar           `json:"storage"`
	Types   map[string]StorageType `json:"types"`
}

// StorageVar is one state variable (or struct member) and where it lives.
type StorageVar struct {
	AstID    int    `json:"astId"`
	Contract string `json:"contract"`
	Label    string `json:"label"`
	Offset   int    `json:"offset"`
	Slot     string `json:"slot"` // decimal, as solc writes it
	Type     string `json:"type"` // key into StorageLayout.Types
}

// StorageType describes a type id of the layout.
type StorageType struct {
	Encoding      string       `json:"encoding"` // inplace, mapping, dynamic_array, bytes
	Label         string       `json:"label"`
	NumberOfBytes string       `json:"numberOfBytes"`
	Key           string       `json:"key,omitempty"`
	Value         string       `json:"value,omitempty"`
	Base          string       `json:"base,omitempty"`
	Members       []StorageVar `json:"members,omitempty"`
}

// ParseStorageLayout parses and validates a solc storage layout: every slot is a decimal
// number and every type a variable names is described.
func ParseStorageLayout(data []byte) (*StorageLayout, error) {
	var l StorageLayout
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("invalid storage layout: %v", err)
	}
	check := func(where string, v StorageVar) error {
		if v.Label == "" {
			return fmt.Errorf("%s: empty label", where)
		}
		if _, ok := new(big.Int).SetString(v.Slot, 10); !ok {
			return fmt.Errorf("%s (%s): slot %q is not a decimal number", where, v.Label, v.Slot)
		}
		if v.Offset < 0 || v.Offset > 31 {
			return fmt.Errorf("%s (%s): offset %d outside 0..31", where, v.Label, v.Offset)
		}
		if _, ok := l.Types[v.Type]; !ok {
			return fmt.Errorf("%s (%s): type %q not in types", where, v.Label, v.Type)
		}
		return nil
	}
	for i, v := range l.Storage {
		if err := check(fmt.Sprintf("storage[%d]", i), v); err != nil {
			return nil, err
		}
	}
	for id, t := range l.Types {
		for i, m := range t.Members {
			if err := check(fmt.Sprintf("types[%q].members[%d]", id, i), m); err != nil {
				return nil, err
			}
		}
		if _, ok := new(big.Int).SetString(t.NumberOfBytes, 10); !ok {
			return nil, fmt.Errorf("types[%q]: numberOfBytes %q is not a decimal number", id, t.NumberOfBytes)
		}
	}
	return &l, nil
}

// LayoutError names the variable that makes an upgrade unsafe.
type LayoutError struct {
	Variable string // label of the offending variable in the old layout (or the new one when appended)
	Reason   string
}

func (e *LayoutError) Error() string {
	return fmt.Sprintf("storage layout incompatible at variable %q: %s", e.Variable, e.Reason)
}

// CheckLayoutCompatible refuses an upgrade from old to new that removes, reorders, renames,
// moves or retypes an existing variable; new variables may only be appended after the last
// old one. Both layouts must be present: without them the check cannot be done.
func CheckLayoutCompatible(old, new *StorageLayout) error {
	if old == nil || new == nil {
		return fmt.Errorf("storage layout check: both layouts are required (old present: %t, new present: %t); compile with storageLayout output", old != nil, new != nil)
	}
	for i, o := range old.Storage {
		if i >= len(new.Storage) {
			return &LayoutError{o.Label, fmt.Sprintf("removed (was slot %s offset %d, %s)", o.Slot, o.Offset, typeLabel(old, o.Type))}
		}
		n := new.Storage[i]
		if n.Label != o.Label {
			if j := indexOfLabel(new.Storage, o.Label); j >= 0 {
				return &LayoutError{o.Label, fmt.Sprintf("reordered: now declared at position %d (slot %s), and %q takes its place at slot %s", j, new.Storage[j].Slot, n.Label, n.Slot)}
			}
			return &LayoutError{o.Label, fmt.Sprintf("removed or renamed: slot %s offset %d now holds %q", o.Slot, o.Offset, n.Label)}
		}
		if n.Slot != o.Slot || n.Offset != o.Offset {
			return &LayoutError{o.Label, fmt.Sprintf("moved from slot %s offset %d to slot %s offset %d", o.Slot, o.Offset, n.Slot, n.Offset)}
		}
		if !sameType(old, o.Type, new, n.Type, map[[2]string]bool{}) {
			return &LayoutError{o.Label, fmt.Sprintf("retyped from %s to %s", typeLabel(old, o.Type), typeLabel(new, n.Type))}
		}
	}
	if len(old.Storage) > 0 && len(new.Storage) > len(old.Storage) {
		last := old.Storage[len(old.Storage)-1]
		end := position(last)
		end.Add(end, size(old, last.Type))
		for _, n := range new.Storage[len(old.Storage):] {
			if position(n).Cmp(end) < 0 {
				return &LayoutError{n.Label, fmt.Sprintf("appended variable at slot %s offset %d overlaps the old layout", n.Slot, n.Offset)}
			}
		}
	}
	return nil
}

func indexOfLabel(vars []StorageVar, label string) int {
	for i, v := range vars {
		if v.Label == label {
			return i
		}
	}
	return -1
}

// position is slot*32+offset in bytes.
func position(v StorageVar) *big.Int {
	p, ok := new(big.Int).SetString(v.Slot, 10)
	if !ok {
		p = new(big.Int)
	}
	p.Lsh(p, 5)
	return p.Add(p, big.NewInt(int64(v.Offset)))
}

func size(l *StorageLayout, typ string) *big.Int {
	n, ok := new(big.Int).SetString(l.Types[typ].NumberOfBytes, 10)
	if !ok {
		return new(big.Int)
	}
	return n
}

func typeLabel(l *StorageLayout, id string) string {
	if t, ok := l.Types[id]; ok && t.Label != "" {
		return t.Label
	}
	return id
}

// sameType compares types by structure, not by id or contract-qualified label: a struct
// declared in CounterV1 and its copy in CounterV2 are the same storage type. seen holds the
// pairs already compared (or being compared), so shared and recursive types cost one visit.
func sameType(a *StorageLayout, ida string, b *StorageLayout, idb string, seen map[[2]string]bool) bool {
	pair := [2]string{ida, idb}
	if seen[pair] {
		return true // a mismatch below this pair is reported where it was first compared
	}
	seen[pair] = true
	ta, oka := a.Types[ida]
	tb, okb := b.Types[idb]
	if !oka || !okb {
		return false
	}
	if ta.Encoding != tb.Encoding || ta.NumberOfBytes != tb.NumberOfBytes || kindLabel(ta.Label) != kindLabel(tb.Label) {
		return false
	}
	if (ta.Key != "") != (tb.Key != "") || (ta.Value != "") != (tb.Value != "") || (ta.Base != "") != (tb.Base != "") {
		return false
	}
	if ta.Key != "" && !sameType(a, ta.Key, b, tb.Key, seen) {
		return false
	}
	if ta.Value != "" && !sameType(a, ta.Value, b, tb.Value, seen) {
		return false
	}
	if ta.Base != "" && !sameType(a, ta.Base, b, tb.Base, seen) {
		return false
	}
	if len(ta.Members) != len(tb.Members) {
		return false
	}
	for i := range ta.Members {
		ma, mb := ta.Members[i], tb.Members[i]
		if ma.Label != mb.Label || ma.Slot != mb.Slot || ma.Offset != mb.Offset || !sameType(a, ma.Type, b, mb.Type, seen) {
			return false
		}
	}
	return true
}

// kindLabel drops the declaring contract from user-defined type labels ("struct CounterV1.Entry"
// → "struct Entry") so a copied declaration compares equal.
func kindLabel(label string) string {
	for _, kind := range []string{"struct ", "enum ", "contract "} {
		if rest, ok := strings.CutPrefix(label, kind); ok {
			if i := strings.LastIndex(rest, "."); i >= 0 {
				rest = rest[i+1:]
			}
			if kind == "contract " {
				return kind // any contract type is an address in storage
			}
			return kind + rest
		}
	}
	return label
}
