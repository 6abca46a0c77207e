package probe

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gethtypes "github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/evidence"
)

// freePort is a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestChainCallProbe(t *testing.T) {
	priv, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key := chain.NewKey("deployer", priv)
	// the simulated chain also serves JSON-RPC over HTTP on loopback: the probe dials it as a node
	port := freePort(t)
	sim := simulated.NewBackend(gethtypes.GenesisAlloc{key.Address: {Balance: new(big.Int).Mul(big.NewInt(10), big.NewInt(params.Ether))}},
		func(nc *node.Config, _ *ethconfig.Config) {
			nc.HTTPHost, nc.HTTPPort, nc.HTTPModules = "127.0.0.1", port, []string{"eth", "net", "web3"}
		})
	t.Cleanup(func() { _ = sim.Close() })
	client := sim.Client()
	art := filepath.Join("..", "..", "deployments", "examples", "demo", "contracts", "artifacts", "standard-output.json")
	v1, err := chain.LoadArtifact(art, "CounterV1")
	if err != nil {
		t.Fatal(err)
	}
	nonces := &chain.NonceStore{Dir: t.TempDir()}
	deploy := func(op string, data []byte) string {
		ctx := context.Background()
		s, err := chain.SignTx(ctx, client, key, nonces, chain.TxRequest{OpKey: op, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chain.Broadcast(ctx, client, s.Raw); err != nil {
			t.Fatal(err)
		}
		if _, err := chain.WaitConfirmed(ctx, client, s.Raw, chain.WaitOptions{Confirmations: 1, PollInterval: time.Millisecond, OnProgress: func(chain.WaitProgress) { sim.Commit() }}); err != nil {
			t.Fatal(err)
		}
		return s.ContractAddress.Hex()
	}
	impl := deploy("impl", v1.Bytecode)
	proxyArt, err := chain.LoadArtifact(art, "DemoProxy")
	if err != nil {
		t.Fatal(err)
	}
	init, err := v1.EncodeCall("initialize", []string{key.Address.Hex(), "7"})
	if err != nil {
		t.Fatal(err)
	}
	proxyData, err := proxyArt.DeployData([]string{impl, fmt.Sprintf("0x%x", init)})
	if err != nil {
		t.Fatal(err)
	}
	proxy := deploy("proxy", proxyData)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)

	check := func(p map[string]string) evidence.Result {
		full := map[string]string{"rpc": url, "chainId": "1337", "address": proxy}
		for k, v := range p {
			full[k] = v
		}
		return Evaluate(context.Background(), Input{Type: TypeChainCall, Params: full}, "", nil)
	}
	for _, tc := range []struct {
		params  map[string]string
		outcome evidence.Outcome
		detail  string
	}{
		{map[string]string{"function": "count()(uint256)", "max": "10"}, evidence.Pass, "count() on " + proxy + " (chain 1337) = 7"},
		{map[string]string{"function": "count()(uint256)", "max": "5"}, evidence.Fail, "= 7, above max 5"},
		{map[string]string{"function": "count()(uint256)", "min": "8"}, evidence.Fail, "= 7, below min 8"},
		{map[string]string{"function": "version()(string)", "equals": "1"}, evidence.Pass, "version() on"},
		{map[string]string{"function": "owner()(address)", "equals": strings.ToLower(key.Address.Hex())}, evidence.Pass, key.Address.Hex()},
		{map[string]string{"function": "owner()(address)", "equals": impl}, evidence.Fail, "want " + impl},
		{map[string]string{"function": "paused()(bool)", "equals": "false"}, evidence.Fail, "paused() on"}, // no such function: the call reverts or answers nothing
		{map[string]string{"function": "count()(uint256)", "max": "10", "chainId": "1"}, evidence.Error, "chain id"},
	} {
		r := check(tc.params)
		if r.Outcome != tc.outcome || !strings.Contains(r.Detail, tc.detail) {
			t.Errorf("%v: %s %q, want %s containing %q", tc.params, r.Outcome, r.Detail, tc.outcome, tc.detail)
		}
	}
}

func TestChainCallParams(t *testing.T) {
	good := map[string]string{"rpc": "http://127.0.0.1:8546", "chainId": "31338", "address": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "function": "balanceOf(address)(uint256)",
		"args": `["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]`, "max": "1000"}
	if err := ValidateParams(TypeChainCall, good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ param, value, want string }{
		{"rpc", "file:///etc/passwd", "param rpc: not an http(s) or ws(s) URL"},
		{"chainId", "0", "param chainId"},
		{"address", "0x1234", "param address"},
		{"function", "balanceOf(address)", "want name(argTypes)(resultType)"},
		{"function", "balanceOf(address)(uint256[])", "want bool, an integer"},
		{"args", `["0x1"]`, "param args"},
		{"args", `[]`, "takes 1 arguments, got 0"},
		{"max", "lots", "param max"},
	} {
		p := map[string]string{}
		for k, v := range good {
			p[k] = v
		}
		p[tc.param] = tc.value
		if err := ValidateParams(TypeChainCall, p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: %v, want %q", tc.param, tc.value, err, tc.want)
		}
	}
	p := map[string]string{"rpc": "http://x:1", "chainId": "1", "address": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "function": "paused()(bool)", "max": "1"}
	if err := ValidateParams(TypeChainCall, p); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("max on a bool: %v", err)
	}
	if err := AtLeastAsStrict(TypeChainCall, "max", "100", "200"); err == nil {
		t.Error("a higher max accepted as at least as strict")
	}
}

func FuzzParseFunction(f *testing.F) {
	for _, s := range []string{"cap()(uint256)", "paused()(bool)", "balanceOf(address)(uint256)", "f(uint8,bytes32)(int64)", "x()(bytes32)", "(", "f()(", "f(uint256[])(string)", "f(tuple)(bool)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sig string) {
		m, err := ParseFunction(sig)
		if err != nil {
			if !strings.Contains(err.Error(), "(") && sig != "" {
				t.Fatalf("error does not quote the signature: %v", err)
			}
			return
		}
		if len(m.Outputs) != 1 || m.Name == "" || len(m.ID) != 4 {
			t.Fatalf("accepted %q as %+v", sig, m)
		}
	})
}
