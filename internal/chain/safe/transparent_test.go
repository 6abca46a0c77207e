package safe

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/shipgate/shipgate/internal/chain"
)

// A transparent proxy (OpenZeppelin's TransparentUpgradeableProxy, whose constructor deploys
// its own ProxyAdmin owned by the timelock) upgraded the governed way: the ProxyAdmin read
// from the proxy's admin slot, upgradeAndCall scheduled with its revert through the Safe, two
// owners approve, the delay passes, execute upgrades, the prepared revert puts v1 back. A
// ProxyAdmin not owned by the timelock is refused before anything is proposed.
func TestGovernedUpgradeOfTransparentProxy(t *testing.T) {
	c := newGovChain(t)
	ctx := context.Background()
	init, err := c.counter.ABI.Pack("initialize", c.gov.Timelock, big.NewInt(7))
	if err != nil {
		t.Fatal(err)
	}
	tp := mustArtifact(NameTransparentProxy)
	proxy := c.deploy(t, "transparent-proxy", tp, c.v1, c.gov.Timelock, init)
	admin, err := ProxyAdminOf(ctx, c.client, proxy, common.Address{}, c.gov.Timelock)
	if err != nil {
		t.Fatal(err)
	}
	slot, _ := chain.ReadAdmin(ctx, c.client, proxy)
	if admin != slot || admin == (common.Address{}) {
		t.Fatalf("ProxyAdmin %s, admin slot %s", admin.Hex(), slot.Hex())
	}
	// a ProxyAdmin the timelock does not own: the upgrade would not be governed
	other := c.deploy(t, "transparent-proxy-stranger", tp, c.v1, c.stranger.Address, init)
	if _, err := ProxyAdminOf(ctx, c.client, other, common.Address{}, c.gov.Timelock); err == nil || !strings.Contains(err.Error(), "not the timelock") {
		t.Fatalf("ProxyAdmin owned by a stranger: %v", err)
	}
	if _, err := ProxyAdminOf(ctx, c.client, c.proxy, common.Address{}, c.gov.Timelock); err == nil || !strings.Contains(err.Error(), "admin slot is empty") {
		t.Fatalf("UUPS proxy as transparent: %v", err)
	}

	code, _ := c.client.CodeAt(ctx, c.v2, nil)
	st, err := ReadState(ctx, c.client, c.gov, c.worker.Address)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Propose(c.gov, UpgradeRequest{ReleaseID: "release/demo/1.5.0", Contract: "Counter", Kind: KindTransparent, Proxy: proxy, ProxyAdmin: admin,
		Next: c.v2, Previous: c.v1, NextCodeHash: crypto.Keccak256Hash(code)}, st.Nonce, st.MinDelay)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Join(Lines(p.Decoded), "\n")
	for _, want := range []string{admin.Hex() + ".upgradeAndCall(proxy=" + proxy.Hex() + ", implementation=" + c.v2.Hex(), "implementation=" + c.v1.Hex()} {
		if !strings.Contains(lines, want) {
			t.Fatalf("decoded calldata lacks %q:\n%s", want, lines)
		}
	}
	c.approve(t, c.owners[0], p.SafeTxHash)
	c.approve(t, c.owners[1], p.SafeTxHash)
	c.execSafe(t, p)
	if err := c.sim.AdjustTime(time.Duration(testDelay) * time.Second); err != nil {
		t.Fatal(err)
	}
	c.sim.Commit()
	impl := func() common.Address {
		a, err := chain.ReadImplementation(ctx, c.client, proxy)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	c.execute(t, p, p.Upgrade, "execute")
	if got := impl(); got != c.v2 {
		t.Fatalf("transparent proxy runs %s after the upgrade, want %s", got.Hex(), c.v2.Hex())
	}
	c.execute(t, p, p.Revert, "revert")
	if got := impl(); got != c.v1 {
		t.Fatalf("transparent proxy runs %s after the revert, want %s", got.Hex(), c.v1.Hex())
	}
	if pr := c.progress(t, p); pr.Phase != PhaseReverted {
		t.Fatalf("phase %s", pr.Phase)
	}
}
