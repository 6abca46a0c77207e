package chain

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadArtifactFormats(t *testing.T) {
	std := loadDemo(t, "CounterV1")
	cases := []struct {
		name, path, contract, format string
		immutables, layout           bool
	}{
		{"solc standard json", demoArtifacts, "CounterV1", FormatSolcStandard, true, true},
		{"solc standard json, qualified name", demoArtifacts, "src/CounterV1.sol:CounterV1", FormatSolcStandard, true, true},
		{"foundry", "testdata/foundry/out/CounterV1.sol/CounterV1.json", "", FormatFoundry, true, true},
		{"hardhat with build-info", "testdata/hardhat/artifacts/src/CounterV1.sol/CounterV1.json", "", FormatHardhat, true, true},
		{"hardhat build-info itself", "testdata/hardhat/artifacts/build-info/0123abcd.json", "CounterV1", FormatHardhatBuild, true, true},
		{"hardhat without dbg", "testdata/hardhat-nodbg/CounterV1.json", "CounterV1", FormatHardhat, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := LoadArtifact(tc.path, tc.contract)
			if err != nil {
				t.Fatal(err)
			}
			if a.Name != "CounterV1" || a.Format != tc.format {
				t.Fatalf("name %q format %q", a.Name, a.Format)
			}
			if _, ok := a.ABI.Methods["initialize"]; !ok {
				t.Fatal("ABI lacks initialize")
			}
			if string(a.Bytecode) != string(std.Bytecode) || string(a.DeployedBytecode) != string(std.DeployedBytecode) {
				t.Fatal("bytecode differs from the solc output")
			}
			if a.HasImmutableInfo != tc.immutables || (len(a.Immutables) > 0) != tc.immutables {
				t.Fatalf("immutables: has info %t, %d ranges", a.HasImmutableInfo, len(a.Immutables))
			}
			if (a.StorageLayout != nil) != tc.layout {
				t.Fatalf("storage layout present = %t", a.StorageLayout != nil)
			}
			// Same contract, same canonical content, same digest, whatever the tool.
			if tc.layout && a.Digest != std.Digest {
				t.Fatalf("digest %s, solc output %s", a.Digest, std.Digest)
			}
			if !strings.HasPrefix(a.Digest, "sha256:") || len(a.Digest) != 71 {
				t.Fatalf("digest %q", a.Digest)
			}
		})
	}
	if v2 := loadDemo(t, "CounterV2"); v2.Digest == std.Digest {
		t.Fatal("CounterV1 and CounterV2 share a digest")
	}
}

func TestParseArtifactErrors(t *testing.T) {
	foundry, err := os.ReadFile("testdata/foundry/out/CounterV1.sol/CounterV1.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, data, contract, field, reason string
	}{
		{"not json", `{`, "", "", "not a JSON object"},
		{"unknown format", `{"abi": []}`, "", "", "unknown artifact format"},
		{"foundry bad hex", `{"abi":[],"bytecode":{"object":"0xzz"},"deployedBytecode":{"object":"0x00"}}`, "", "bytecode.object", "invalid hex"},
		{"foundry odd hex", `{"abi":[],"bytecode":{"object":"0x0"},"deployedBytecode":{"object":"0x00"}}`, "", "bytecode.object", "odd-length"},
		{"foundry unlinked", `{"abi":[],"bytecode":{"object":"0x60__$1234$__"},"deployedBytecode":{"object":"0x00"}}`, "", "bytecode.object", "unlinked library"},
		{"foundry missing deployed", `{"abi":[],"bytecode":{"object":"0x00"}}`, "", "deployedBytecode", "missing"},
		{"foundry missing abi", `{"bytecode":{"object":"0x00"},"deployedBytecode":{"object":"0x00"}}`, "", "abi", "missing"},
		{"foundry bad abi", `{"abi":[{"type":"bogus"}],"bytecode":{"object":"0x00"},"deployedBytecode":{"object":"0x00"}}`, "", "abi", "invalid ABI"},
		{"foundry immutable out of range", `{"abi":[],"bytecode":{"object":"0x00"},"deployedBytecode":{"object":"0x00","immutableReferences":{"5":[{"start":0,"length":32}]}}}`, "", "deployedBytecode.immutableReferences[\"5\"][0]", "outside deployed bytecode"},
		{"foundry wrong contract", string(foundry), "CounterV2", "", "holds contract \"A\", not \"CounterV2\""},
		{"foundry bad layout", `{"abi":[],"bytecode":{"object":"0x00"},"deployedBytecode":{"object":"0x00"},"storageLayout":{"storage":[{"label":"x","slot":"a","type":"t"}],"types":{}}}`, "", "storageLayout", "not a decimal"},
		{"hardhat bad format", `{"_format":"other","contractName":"A","sourceName":"a.sol","abi":[],"bytecode":"0x","deployedBytecode":"0x"}`, "", "_format", "unsupported"},
		{"hardhat missing bytecode", `{"_format":"hh-sol-artifact-1","contractName":"A","sourceName":"a.sol","abi":[]}`, "", "bytecode", "missing"},
		{"hardhat number bytecode", `{"_format":"hh-sol-artifact-1","contractName":"A","sourceName":"a.sol","abi":[],"bytecode":1,"deployedBytecode":"0x"}`, "", "bytecode", "want a string"},
		{"solc compile error", `{"errors":[{"severity":"error","formattedMessage":"ParserError: x"}],"contracts":{}}`, "A", "errors[0]", "ParserError"},
		{"solc no name", `{"contracts":{"a.sol":{"A":{}}}}`, "", "contracts", "a contract name is required"},
		{"solc unknown", `{"contracts":{"a.sol":{"A":{}}}}`, "B", "contracts", "no contract \"B\" (have a.sol:A)"},
		{"solc ambiguous", `{"contracts":{"a.sol":{"A":{}},"b.sol":{"A":{}}}}`, "A", "contracts", "ambiguous"},
		{"solc bad deployed", `{"contracts":{"a.sol":{"A":{"abi":[],"evm":{"bytecode":{"object":"00"},"deployedBytecode":{"object":"x"}}}}}}`, "A", `contracts["a.sol"]["A"].evm.deployedBytecode.object`, "odd-length"},
		{"build-info bad output", `{"output": 3}`, "A", "output", "not a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseArtifact("x/A.json", []byte(tc.data), tc.contract)
			var ae *ArtifactError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an ArtifactError", err)
			}
			if ae.File != "x/A.json" || ae.Field != tc.field || !strings.Contains(ae.Reason, tc.reason) {
				t.Fatalf("got file %q field %q reason %q; want field %q reason containing %q", ae.File, ae.Field, ae.Reason, tc.field, tc.reason)
			}
		})
	}
}

func TestLoadArtifactStaleBuildInfo(t *testing.T) {
	dir := t.TempDir()
	src := "testdata/hardhat/artifacts"
	for _, f := range []string{"src/CounterV1.sol/CounterV1.json", "src/CounterV1.sol/CounterV1.dbg.json", "build-info/0123abcd.json"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(f, "build-info") { // a build-info from another compile
			data = []byte(strings.Replace(string(data), `"object": "6080`, `"object": "6081`, 1))
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := LoadArtifact(filepath.Join(dir, "src/CounterV1.sol/CounterV1.json"), "")
	if err == nil || !strings.Contains(err.Error(), "stale build-info") {
		t.Fatalf("got %v, want stale build-info", err)
	}
}

// FuzzParseArtifact: never panics; an error is an ArtifactError naming the file; a success is
// deterministic and carries a digest.
func FuzzParseArtifact(f *testing.F) {
	// Small seeds in each format: the full fixtures are covered by the tests above, and large
	// seeds make the fuzzer spend its time minimizing instead of exploring.
	f.Add([]byte(`{"abi":[{"type":"function","name":"f","inputs":[{"name":"a","type":"uint8"}],"outputs":[]}],"bytecode":{"object":"0x6001"},"deployedBytecode":{"object":"0x600060005260206000f3a1","immutableReferences":{"3":[{"start":1,"length":2}]}},"storageLayout":{"storage":[{"astId":1,"contract":"a.sol:A","label":"x","offset":0,"slot":"0","type":"t_uint8"}],"types":{"t_uint8":{"encoding":"inplace","label":"uint8","numberOfBytes":"1"}}}}`), "A")
	f.Add([]byte(`{"_format":"hh-sol-artifact-1","contractName":"A","sourceName":"a.sol","abi":[{"type":"constructor","inputs":[{"name":"o","type":"address"}]}],"bytecode":"0x6001","deployedBytecode":"0x00","linkReferences":{}}`), "A")
	f.Add([]byte(`{"output":{"contracts":{"a.sol":{"A":{"abi":[],"evm":{"bytecode":{"object":"00"},"deployedBytecode":{"object":"00"}}}}}}}`), "a.sol:A")
	f.Add([]byte(`{"contracts":{"a.sol":{"A":{"abi":[],"evm":{"bytecode":{"object":"6000"},"deployedBytecode":{"object":"6000","immutableReferences":{"1":[{"start":0,"length":1}]}}},"storageLayout":{"storage":[],"types":{}}}}}}`), "A")
	f.Add([]byte(`{"abi":[],"bytecode":{"object":"0x"},"deployedBytecode":{"object":"0x"}}`), "")
	f.Add([]byte(`{"_format":"hh-sol-artifact-1","contractName":"A","sourceName":"a.sol","abi":[],"bytecode":"0x","deployedBytecode":"0x"}`), "a.sol:A")
	f.Fuzz(func(t *testing.T, data []byte, contract string) {
		a, err := ParseArtifact("fuzz.json", data, contract)
		if err != nil {
			var ae *ArtifactError
			if !errors.As(err, &ae) || ae.File != "fuzz.json" {
				t.Fatalf("error %v is not an ArtifactError naming the file", err)
			}
			return
		}
		b, err := ParseArtifact("fuzz.json", data, contract)
		if err != nil || b.Digest != a.Digest || !strings.HasPrefix(a.Digest, "sha256:") {
			t.Fatalf("not deterministic: %v, %s vs %s", err, a.Digest, b.Digest)
		}
		for _, r := range a.Immutables {
			if r.Start < 0 || r.Length <= 0 || r.Start+r.Length > len(a.DeployedBytecode) {
				t.Fatalf("immutable range %+v outside %d bytes", r, len(a.DeployedBytecode))
			}
		}
	})
}
