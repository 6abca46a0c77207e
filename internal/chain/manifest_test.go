package chain

import (
	"strings"
	"testing"

	"github.com/shipgate/shipgate/internal/release"
)

func TestCheckContracts(t *testing.T) {
	proxy := func(args ...string) *release.Proxy {
		return &release.Proxy{Kind: "uups", Initializer: "initialize", InitArgs: args, Artifact: demoArtifacts, ContractName: "DemoProxy"}
	}
	owner := "0x5FbDB2315678afecb367f032d93F642f64180aa3"
	cases := []struct {
		name string
		c    release.Contract
		want []string // substrings of the error; none: valid
	}{
		{"valid proxy", release.Contract{Name: "Counter", Artifact: demoArtifacts, ContractName: "CounterV1", Proxy: proxy(owner, "5")}, nil},
		{"wrong count", release.Contract{Name: "Counter", Artifact: demoArtifacts, ContractName: "CounterV1", Proxy: proxy(owner)},
			[]string{"release.yaml: contracts[0].proxy.initArgs", "CounterV1.initialize", "2"}},
		{"wrong type", release.Contract{Name: "Counter", Artifact: demoArtifacts, ContractName: "CounterV1", Proxy: proxy("not-an-address", "5")},
			[]string{"contracts[0].proxy.initArgs", "argument 0", "address"}},
		{"constructor args to a contract without any", release.Contract{Name: "Counter", Artifact: demoArtifacts, ContractName: "CounterV1", Args: []string{"1"}},
			[]string{"contracts[0].args", "constructor"}},
		{"unknown contract", release.Contract{Name: "Nope", Artifact: demoArtifacts},
			[]string{"contracts[0].artifact", "Nope"}},
		{"proxy artifact that is no proxy", release.Contract{Name: "Counter", Artifact: demoArtifacts, ContractName: "CounterV1",
			Proxy: &release.Proxy{Kind: "uups", Initializer: "initialize", InitArgs: []string{owner, "5"}, Artifact: demoArtifacts, ContractName: "CounterV2"}},
			[]string{"contracts[0].proxy.artifact", "ERC1967 proxy"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckContracts("release.yaml", []release.Contract{tc.c})
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
