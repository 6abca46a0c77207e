package chain

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// A fee cap below the base fee is either refused by the node (ErrUnderpriced) or sits in the
// pool; then the wait says why it does not confirm.
func TestFeeCapBelowBaseFee(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t)
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	s, err := SignCall(context.Background(), c.key, TxParams{ChainID: big.NewInt(1337), GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(1), Gas: 21000}, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Broadcast(ctx, c.client, s.Raw)
	if errors.Is(err, ErrUnderpriced) {
		t.Logf("node refused: %v", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	// Five polls, however long they take: a wall-clock deadline cut the node's base-fee lookup
	// short on a loaded machine, so the last report had no note (and a long one lets the base
	// fee of empty blocks fall below the cap). 30 s only bounds a hang.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var reports []WaitProgress
	opts := c.waitOpts(1)
	opts.OnProgress = func(p WaitProgress) {
		reports = append(reports, p)
		c.sim.Commit()
		if len(reports) == 5 {
			cancel()
		}
	}
	if _, err := WaitConfirmed(wctx, c.client, s.Raw, opts); err == nil {
		t.Fatal("a transaction whose fee cap is below the base fee was confirmed")
	}
	noted := false
	for _, p := range reports {
		if p.State == "mined" || p.State == "reorged" {
			t.Fatalf("progress %+v: the transaction cannot leave the pool", p)
		}
		noted = noted || strings.Contains(p.Note, "below the base fee")
	}
	if !noted {
		t.Fatalf("no progress report says why the transaction waits: %+v", reports)
	}
}
