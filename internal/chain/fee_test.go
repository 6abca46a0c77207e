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
	s, err := SignCall(c.key, TxParams{ChainID: big.NewInt(1337), GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(1), Gas: 21000}, to, nil)
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
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var last WaitProgress
	opts := c.waitOpts(1)
	opts.OnProgress = func(p WaitProgress) { last = p; c.sim.Commit() }
	// the transaction can never be mined: the wait must end in an error (the deadline, or under
	// load the in-process RPC pipe's own timeout), never with a receipt
	if _, err := WaitConfirmed(wctx, c.client, s.Raw, opts); err == nil {
		t.Fatal("a transaction whose fee cap is below the base fee was confirmed")
	}
	if last.State == "" {
		return // ended before the first progress report: nothing more to check
	}
	if last.State != "pending" || !strings.Contains(last.Note, "below the base fee") {
		t.Fatalf("last progress %+v", last)
	}
}
