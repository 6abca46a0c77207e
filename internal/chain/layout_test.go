package chain

import (
	"errors"
	"strings"
	"testing"
)

// layout builds a StorageLayout from "label:slot:offset:type" entries over a fixed type table.
func layout(t testing.TB, vars ...string) *StorageLayout {
	t.Helper()
	l := &StorageLayout{Types: map[string]StorageType{
		"t_uint256": {Encoding: "inplace", Label: "uint256", NumberOfBytes: "32"},
		"t_uint128": {Encoding: "inplace", Label: "uint128", NumberOfBytes: "16"},
		"t_address": {Encoding: "inplace", Label: "address", NumberOfBytes: "20"},
		"t_bool":    {Encoding: "inplace", Label: "bool", NumberOfBytes: "1"},
		"t_map":     {Encoding: "mapping", Label: "mapping(address => uint256)", NumberOfBytes: "32", Key: "t_address", Value: "t_uint256"},
		"t_map2":    {Encoding: "mapping", Label: "mapping(address => bool)", NumberOfBytes: "32", Key: "t_address", Value: "t_bool"},
		"t_struct(Entry)10_storage": {Encoding: "inplace", Label: "struct V1.Entry", NumberOfBytes: "64", Members: []StorageVar{
			{Label: "a", Slot: "0", Type: "t_uint256"}, {Label: "b", Slot: "1", Type: "t_address"}}},
		"t_struct(Entry)99_storage": {Encoding: "inplace", Label: "struct V2.Entry", NumberOfBytes: "64", Members: []StorageVar{
			{Label: "a", Slot: "0", Type: "t_uint256"}, {Label: "b", Slot: "1", Type: "t_address"}}},
		"t_struct(Other)5_storage": {Encoding: "inplace", Label: "struct V3.Entry", NumberOfBytes: "64", Members: []StorageVar{
			{Label: "a", Slot: "0", Type: "t_uint256"}, {Label: "c", Slot: "1", Type: "t_address"}}},
	}}
	for _, v := range vars {
		p := strings.Split(v, ":")
		off := 0
		if p[2] != "0" {
			off = int(p[2][0] - '0')
		}
		l.Storage = append(l.Storage, StorageVar{Label: p[0], Slot: p[1], Offset: off, Type: p[3]})
	}
	return l
}

func TestCheckLayoutCompatible(t *testing.T) {
	v1 := []string{"count:0:0:t_uint256", "owner:1:0:t_address", "paused:1:2:t_bool", "balances:2:0:t_map", "entry:3:0:t_struct(Entry)10_storage"}
	cases := []struct {
		name     string
		next     []string
		variable string // "" means compatible
		reason   string
	}{
		{"identical", v1, "", ""},
		{"appended", append(append([]string{}, v1...), "step:5:0:t_uint256"), "", ""},
		{"struct copied to the new contract", []string{"count:0:0:t_uint256", "owner:1:0:t_address", "paused:1:2:t_bool", "balances:2:0:t_map", "entry:3:0:t_struct(Entry)99_storage"}, "", ""},
		{"removed last", v1[:4], "entry", "removed"},
		{"reordered", []string{"owner:0:0:t_address", "count:1:0:t_uint256", "paused:1:2:t_bool", "balances:2:0:t_map", "entry:3:0:t_struct(Entry)10_storage"}, "count", "reordered"},
		{"inserted before", []string{"count:0:0:t_uint256", "admin:1:0:t_address", "owner:2:0:t_address", "paused:2:2:t_bool", "balances:3:0:t_map", "entry:4:0:t_struct(Entry)10_storage"}, "owner", "reordered"},
		{"renamed", []string{"total:0:0:t_uint256", "owner:1:0:t_address", "paused:1:2:t_bool", "balances:2:0:t_map", "entry:3:0:t_struct(Entry)10_storage"}, "count", "removed or renamed"},
		{"retyped", []string{"count:0:0:t_uint128", "owner:1:0:t_address", "paused:1:2:t_bool", "balances:2:0:t_map", "entry:3:0:t_struct(Entry)10_storage"}, "count", "retyped from uint256 to uint128"},
		{"mapping value retyped", []string{"count:0:0:t_uint256", "owner:1:0:t_address", "paused:1:2:t_bool", "balances:2:0:t_map2", "entry:3:0:t_struct(Entry)10_storage"}, "balances", "retyped"},
		{"struct member renamed", []string{"count:0:0:t_uint256", "owner:1:0:t_address", "paused:1:2:t_bool", "balances:2:0:t_map", "entry:3:0:t_struct(Other)5_storage"}, "entry", "retyped"},
		{"moved offset", []string{"count:0:0:t_uint256", "owner:1:0:t_address", "paused:1:3:t_bool", "balances:2:0:t_map", "entry:3:0:t_struct(Entry)10_storage"}, "paused", "moved from slot 1 offset 2 to slot 1 offset 3"},
		{"appended overlapping", append(append([]string{}, v1...), "step:4:0:t_uint256"), "step", "overlaps"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLayoutCompatible(layout(t, v1...), layout(t, tc.next...))
			if tc.variable == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var le *LayoutError
			if !errors.As(err, &le) || le.Variable != tc.variable || !strings.Contains(le.Reason, tc.reason) {
				t.Fatalf("got %v; want variable %q reason containing %q", err, tc.variable, tc.reason)
			}
		})
	}
	if err := CheckLayoutCompatible(nil, layout(t, v1...)); err == nil {
		t.Fatal("missing old layout accepted")
	}
}

func TestDemoLayouts(t *testing.T) {
	v1, v2, v3 := loadDemo(t, "CounterV1"), loadDemo(t, "CounterV2"), loadDemo(t, "CounterV3Bad")
	if err := CheckUpgrade(v1, v2); err != nil {
		t.Fatal(err)
	}
	if err := CheckUpgrade(v2, v1); err == nil || !strings.Contains(err.Error(), `"step"`) {
		t.Fatalf("v2 -> v1 as an upgrade: got %v, want step removed", err)
	}
	if err := CheckRollback(v2, v1); err != nil {
		t.Fatal(err)
	}
	for _, from := range []*Artifact{v1, v2} {
		if err := CheckUpgrade(from, v3); err == nil || !strings.Contains(err.Error(), `variable "count"`) {
			t.Fatalf("%s -> v3Bad: got %v", from.Name, err)
		}
	}
	noLayout, err := LoadArtifact("testdata/hardhat-nodbg/CounterV1.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckUpgrade(noLayout, v2); err == nil || !strings.Contains(err.Error(), "storage layout missing") {
		t.Fatalf("upgrade without a layout: %v", err)
	}
}

// FuzzStorageLayout: parsing never panics, and any parsed layout is compatible with itself
// and with itself plus nothing removed.
func FuzzStorageLayout(f *testing.F) {
	// Small seeds (the demo layouts are covered by TestDemoLayouts): large ones make the
	// fuzzer spend its time minimizing.
	v1 := []byte(`{"storage":[{"label":"count","slot":"0","offset":0,"type":"u"},{"label":"m","slot":"1","offset":0,"type":"m"}],"types":{"u":{"encoding":"inplace","label":"uint256","numberOfBytes":"32"},"m":{"encoding":"mapping","label":"mapping(uint256 => uint256)","numberOfBytes":"32","key":"u","value":"u"}}}`)
	v2 := []byte(`{"storage":[{"label":"count","slot":"0","offset":0,"type":"u"},{"label":"m","slot":"1","offset":0,"type":"m"},{"label":"s","slot":"2","offset":0,"type":"s"}],"types":{"u":{"encoding":"inplace","label":"uint256","numberOfBytes":"32"},"m":{"encoding":"mapping","label":"mapping(uint256 => uint256)","numberOfBytes":"32","key":"u","value":"u"},"s":{"encoding":"inplace","label":"struct C.S","numberOfBytes":"32","members":[{"label":"x","slot":"0","offset":0,"type":"u"}]}}}`)
	f.Add(v1, v2)
	f.Add(v2, v1)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		la, errA := ParseStorageLayout(a)
		lb, errB := ParseStorageLayout(b)
		if errA != nil || errB != nil {
			return
		}
		_ = CheckLayoutCompatible(la, lb)
		// A layout whose types all exist is compatible with itself, cycles included.
		if err := CheckLayoutCompatible(la, la); err != nil && !strings.Contains(err.Error(), "retyped") {
			t.Fatalf("layout incompatible with itself: %v", err)
		}
	})
}
