package chain

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// chainIDAPI serves eth_chainId, enough for Dial's connect-time check.
type chainIDAPI struct{ id uint64 }

func (a *chainIDAPI) ChainId() hexutil.Uint64 { return hexutil.Uint64(a.id) } // eth_chainId

func TestDialChecksChainID(t *testing.T) {
	srv := rpc.NewServer()
	if err := srv.RegisterName("eth", &chainIDAPI{id: 11155111}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv) // 127.0.0.1 only
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Stop)
	ctx := context.Background()
	url := ts.URL + "/v3/SECRET-API-KEY"

	c, err := Dial(ctx, url, 11155111)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	_, err = Dial(ctx, url, 1)
	var ce *ChainIDError
	if !errors.As(err, &ce) || ce.Expected != 1 || ce.Got != 11155111 {
		t.Fatalf("got %v, want ChainIDError{1, 11155111}", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("error leaks the URL path: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://mainnet.example/v3/KEY": "https://mainnet.example/…",
		"http://127.0.0.1:8545":          "http://127.0.0.1:8545",
		"ws://host:8546?token=KEY":       "ws://host:8546/…",
		"/var/run/geth.ipc":              "/var/run/geth.ipc",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
