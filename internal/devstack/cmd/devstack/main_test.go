package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/chain/safe"
	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/release"
)

// The demo as `go tool task demo` and `demo:rollback` run it, end to end: the devstack binary
// brings the stack up in a directory of its own (on the embedded stack's fixed loopback ports:
// no other stack may be up, and two runs of the test wait for each other), then `demo` and
// `demo-rollback` drive release demo 1.4.0 through the governed mainnet — a 2-of-3 Safe v1.5.0
// of the demo's bob, carol and erin, and a TimelockController of 30 s. The test checks the
// steps the demo prints and what the chain says afterwards: the proxy's implementation slot, the Safe's nonce, the timelock's
// operations and the owners' approvals.
func TestDemoGovernedMainnet(t *testing.T) {
	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Two suites on one machine (two checkouts) take turns: the stack's ports are fixed. The
	// lock is released last, after `down` (cleanups run in reverse).
	unlock, err := chain.LockFile(filepath.Join(os.TempDir(), "shipgate-demo-stack.lock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	for _, addr := range []string{temporalAddr, "127.0.0.1:8233", demosvcAddr, workerAddr, promAddr, mainnetChain().RPC()[len("http://"):], devstack.DevChains[0].RPC()[len("http://"):]} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is taken (%v): the demo's stack runs on fixed ports; stop the stack that holds them (`go tool task down`)", addr, err)
		}
		l.Close()
	}
	bin, data := t.TempDir(), t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./worker", "./internal/devstack/cmd/devstack", "./internal/devstack/cmd/demosvc")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	devstackCmd := func(args ...string) (string, time.Duration, error) {
		cmd := exec.Command(filepath.Join(bin, "devstack"), append(args, "-data", data, "-bin", bin)...)
		cmd.Dir = root
		began := time.Now()
		out, err := cmd.CombinedOutput()
		return string(out), time.Since(began), err
	}
	t.Cleanup(func() {
		if out, _, err := devstackCmd("down"); err != nil {
			t.Errorf("devstack down: %v\n%s", err, out)
		}
	})
	out, took, err := devstackCmd("up")
	if err != nil {
		t.Fatalf("devstack up: %v\n%s", err, out)
	}
	t.Logf("up took %s", took.Round(time.Second))
	for _, want := range []string{"mainnet governed: Safe v1.5.0 0x", "(2 of [bob carol erin])", "delay 30s, executor the deployer", "the mainnet's governance (Safe 0x"} {
		if !strings.Contains(out, want) {
			t.Fatalf("up does not say %q:\n%s", want, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	st := devstack.Stack{Dir: data}
	gov, err := openGovernance(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	owners := map[common.Address]string{}
	for _, o := range gov.Owners {
		owners[o.Address] = o.Name
	}
	c, err := client.Dial(client.Options{HostPort: temporalAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// the steps of a governed upgrade, in order, as the demo prints them for contract
	steps := func(contract string) []string {
		g := "governance " + contract + " on mainnet: "
		return []string{
			"proxy 0x", "of " + contract + " handed to the timelock " + gov.Gov.Timelock.Hex(),
			"contract deploy " + contract + " on mainnet: implementation",
			g + "proposed as a Safe transaction; the owners check on their own devices:",
			"Safe " + gov.Gov.Safe.Hex() + " on chain 31338, nonce ", "safeTxHash 0x", "(MultiSendCallOnly, delegatecall)",
			"upgrade " + contract + " proxy 0x", "timelock " + gov.Gov.Timelock.Hex() + ", delay 30s",
			"operation upgrade 0x", "operation revert 0x", "calldata:", ".multiSend()", ".schedule(target=0x", ".upgradeToAndCall(newImplementation=0x",
			g + "awaiting-approvals",
			"window governance " + contract + ": owner approvals open until",
			"approveHash of safeTxHash", "approveHash of safeTxHash",
			g + "approved: threshold met (2 of 2: ",
			"window governance " + contract + ": owner approvals done",
			"contract exec-safe " + contract + " on mainnet: safe-tx " + gov.Gov.Safe.Hex(),
			g + "scheduled: the Safe transaction executed",
			"window governance " + contract + ": timelock delay open until",
			"window governance " + contract + ": timelock delay done",
			"contract execute-upgrade " + contract + " on mainnet: proxy 0x",
			g + "upgraded: the timelock executed the upgrade; the prepared revert is ready now",
		}
	}
	approver := regexp.MustCompile(`approver (\w+) \(Safe owner (0x[0-9a-fA-F]{40})\) approveHash of safeTxHash (0x[0-9a-f]{64}) \((\w+)\): tx 0x[0-9a-f]{64}, block \d+`)

	// onChain checks the release's governed upgrade on chain: the owners who approved it are the
	// ones the demo printed, the Safe transaction executed (its nonce moved past the proposal's),
	// the upgrade is done, the revert is revert (ready, or done after a rollback) and the proxy
	// runs the release's implementation (its previous one after the revert); the demo printed
	// the same facts.
	onChain := func(out, id string, revert safe.OperationState) release.GovernedUpgrade {
		t.Helper()
		s, err := control.Status(ctx, c, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Governance) != 1 {
			t.Fatalf("%d governed upgrades in status, want 1: %+v", len(s.Governance), s.Governance)
		}
		u := s.Governance[0]
		var p safe.Proposal
		if err := json.Unmarshal(u.Proposal, &p); err != nil {
			t.Fatal(err)
		}
		oc, err := gov.Read(ctx, u.Proposal)
		if err != nil {
			t.Fatal(err)
		}
		want := p.Request.Next
		if revert == safe.OpDone {
			want = p.Request.Previous
		}
		if oc.Upgrade != safe.OpDone || oc.Revert != revert || oc.SafeNonce != u.SafeNonce+1 || oc.Implementation != want {
			t.Fatalf("on chain after %s: %+v; want the upgrade done, the revert %s, Safe nonce %d, implementation %s", id, oc, revert, u.SafeNonce+1, want.Hex())
		}
		for _, l := range oc.Lines() {
			if !strings.Contains(out, l) {
				t.Fatalf("the demo does not print %q:\n%s", l, out)
			}
		}
		cl, err := chain.Dial(ctx, gov.RPC, gov.ChainID)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		approved, _, err := safe.Approvals(ctx, cl, gov.Gov.Safe, p.SafeTxHash)
		if err != nil {
			t.Fatal(err)
		}
		printed := approver.FindAllStringSubmatch(out, -1)
		if len(approved) != 2 || len(printed) != 2 {
			t.Fatalf("%d approvals of %s on chain (%v) and %d printed, want 2 each:\n%s", len(approved), p.SafeTxHash.Hex(), approved, len(printed), out)
		}
		for _, m := range printed {
			a := common.HexToAddress(m[2])
			if owners[a] != m[1] || m[3] != p.SafeTxHash.Hex() || !slices.Contains(approved, a) {
				t.Fatalf("printed approval %q: owner %s on chain is %q; approvals on chain %v of %s", m[0], a.Hex(), owners[a], approved, p.SafeTxHash.Hex())
			}
		}
		return u
	}

	out, took, err = devstackCmd("demo")
	if err != nil {
		t.Fatalf("devstack demo: %v\n%s", err, out)
	}
	t.Logf("demo (the baseline release demo 1.3.0, then 1.4.0 through the governed mainnet) took %s", took.Round(time.Second))
	inOrder(t, out, append(steps("Counter"), "state succeeded", "on mainnet after the release (governance Counter: upgraded):", "ended succeeded"))
	onChain(out, "release/demo/1.4.0", safe.OpReady)

	// `go tool task demo:rollback` runs `up` first, with the stack (and its worker) running: the
	// governance is found on chain, and the worker still opens its keystore
	if out, _, err := devstackCmd("up"); err != nil || !strings.Contains(out, "mainnet governed by Safe "+gov.Gov.Safe.Hex()+" (2 of [bob carol erin])") {
		t.Fatalf("devstack up again: %v\n%s", err, out)
	}
	out, took, err = devstackCmd("demo-rollback")
	if err != nil {
		t.Fatalf("devstack demo-rollback: %v\n%s", err, out)
	}
	t.Logf("demo-rollback (the baseline release for its own counter, then 1.4.0 rolled back by the analysis) took %s", took.Round(time.Second))
	inOrder(t, out, append(steps("CounterRollbackDemo"),
		"contract execute-revert CounterRollbackDemo on mainnet: proxy 0x",
		"governance CounterRollbackDemo on mainnet: reverted: the rollback executed the prepared revert",
		"on mainnet after the release (governance CounterRollbackDemo: reverted):", "ended rolled_back"))
	u := onChain(out, "release/demo/1.4.0", safe.OpDone)
	if n := strings.Count(out, "contract execute-revert"); n != 1 {
		t.Fatalf("%d executions of the revert printed, want 1:\n%s", n, out)
	}
	t.Logf("rollback executed the prepared revert of safeTxHash %s", u.SafeTxHash)
}

// inOrder fails unless every step appears in out after the one before it.
func inOrder(t *testing.T, out string, steps []string) {
	t.Helper()
	rest := out
	for i, s := range steps {
		j := strings.Index(rest, s)
		if j < 0 {
			t.Fatalf("step %d %q is not printed after step %d %q:\n%s", i, s, i-1, steps[max(i-1, 0)], out)
		}
		rest = rest[j+len(s):]
	}
}
