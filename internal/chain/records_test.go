package chain

import (
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// A release deploys a proxy and records it; the next release reads it back, checked against
// the chain; a record that no longer matches the chain is refused.
func TestRecordStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := newTestChain(t)
	v1, v2 := loadDemo(t, "CounterV1"), loadDemo(t, "CounterV2")
	proxyArt := loadDemo(t, "DemoProxy")
	impl, proxy := c.deployProxy(t, v1, "1")
	check, err := VerifyCode(ctx, c.client, proxy, proxyArt)
	if err != nil {
		t.Fatal(err)
	}
	store := &RecordStore{Dir: t.TempDir()}
	at := time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC)
	rec := Record{ChainID: 1337, Contract: "Counter", Kind: KindProxy, Release: "release/svc/1.0.0", Address: proxy,
		TxHash: common.HexToHash("0x01"), BlockNumber: 3, ArtifactName: proxyArt.Name, ArtifactDigest: proxyArt.Digest,
		CodeHash: check.CodeHash, StorageLayout: v1.StorageLayout, Implementation: &impl, RecordedAt: at}
	first, err := store.Append(rec)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := store.Append(rec); err != nil || again.Seq != 0 {
		t.Fatalf("retried append: seq %d, %v", again.Seq, err)
	}
	got, err := store.LatestVerified(ctx, c.client, 1337, "Counter")
	if err != nil {
		t.Fatal(err)
	}
	if got.Address != proxy || got.StorageLayout == nil || got.RecordedAt != at || got.Prev != "" {
		t.Fatalf("read back %+v", got)
	}

	// Upgrade on chain without recording it: the record no longer matches.
	impl2, _ := c.deploy(t, "r2/impl", v2, nil)
	c.send(t, TxRequest{OpKey: "r2/upgrade", To: &proxy, Data: UpgradeToAndCallData(impl2, nil)}, 1)
	if _, err := store.LatestVerified(ctx, c.client, 1337, "Counter"); !errors.Is(err, ErrRecordMismatch) {
		t.Fatalf("stale proxy record: %v", err)
	}
	rec2 := rec
	rec2.Release, rec2.TxHash, rec2.Implementation, rec2.StorageLayout = "release/svc/2.0.0", common.HexToHash("0x02"), &impl2, v2.StorageLayout
	second, err := store.Append(rec2)
	if err != nil || second.Seq != 1 || second.Prev == "" {
		t.Fatalf("second append: %+v, %v", second, err)
	}
	if _, err := store.LatestVerified(ctx, c.client, 1337, "Counter"); err != nil {
		t.Fatal(err)
	}
	h, err := store.History(1337, "Counter")
	if err != nil || len(h) != 2 || h[0].TxHash != first.TxHash {
		t.Fatalf("history: %d, %v", len(h), err)
	}

	// Wrong code at the address.
	bad := rec2
	bad.Contract, bad.CodeHash = "Other", common.HexToHash("0xbad")
	if _, err := store.Append(bad); err != nil {
		t.Fatal(err)
	}
	if _, err := store.LatestVerified(ctx, c.client, 1337, "Other"); !errors.Is(err, ErrRecordMismatch) || !strings.Contains(err.Error(), "code hash") {
		t.Fatalf("wrong code hash: %v", err)
	}
	if _, err := store.LatestVerified(ctx, c.client, 1337, "Missing"); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := store.Latest(1337, "../x"); err == nil {
		t.Fatal("path traversal accepted")
	}

	// A hand edit of an old entry breaks the hash chain.
	path := filepath.Join(store.Dir, "1337", "Counter.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), `"release/svc/1.0.0"`, `"release/svc/0.9.9"`, 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.History(1337, "Counter"); err == nil || !strings.Contains(err.Error(), "history[1]: prev digest") {
		t.Fatalf("edited history accepted: %v", err)
	}
}

// FuzzRecordFile: any file content is either refused with the path named or yields a history
// whose chain re-verifies.
func FuzzRecordFile(f *testing.F) {
	dir := f.TempDir()
	store := &RecordStore{Dir: dir}
	for i := range 2 { // small records: large seeds make the fuzzer minimize instead of explore
		if _, err := store.Append(Record{ChainID: 1, Contract: "C", Kind: KindContract, TxHash: common.BigToHash(big.NewInt(int64(i + 1))), RecordedAt: time.Unix(int64(i), 0).UTC()}); err != nil {
			f.Fatal(err)
		}
	}
	seed, err := os.ReadFile(filepath.Join(dir, "1", "C.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"chainId":1,"contract":"C","history":[]}`))
	f.Add([]byte(`{"chainId":1,"contract":"C","history":[{"seq":0,"chainId":1,"contract":"C","prev":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parseRecordFile("p.json", data, 1, "C")
		if err != nil {
			if !strings.Contains(err.Error(), "p.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for i, r := range file.History {
			if r.Seq != i {
				t.Fatalf("seq %d at %d accepted", r.Seq, i)
			}
		}
	})
}
