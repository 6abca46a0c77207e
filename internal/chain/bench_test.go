package chain

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkDeployConfirmVerify: sign (through the nonce store), broadcast, wait for 2
// confirmations and verify the code of CounterV1 on the simulated chain.
func BenchmarkDeployConfirmVerify(b *testing.B) {
	c := newTestChain(b)
	v1 := loadDemo(b, "CounterV1")
	data, err := v1.DeployData(nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s, _ := c.send(b, TxRequest{OpKey: fmt.Sprintf("bench/%d", i), Data: data, Gas: 2_000_000}, 2)
		if _, err := VerifyCode(ctx, c.client, *s.ContractAddress, v1); err != nil {
			b.Fatal(err)
		}
	}
}
