package activities

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"
	"go.temporal.io/sdk/temporal"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

// The policy's EIP-1559 caps bound what the node suggests; without caps the suggestion stands.
func TestSignAppliesFeeCaps(t *testing.T) {
	priv, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key := chain.NewKey("DEPLOYER", priv)
	sim := simulated.NewBackend(types.GenesisAlloc{key.Address: {Balance: new(big.Int).Mul(big.NewInt(10), big.NewInt(params.Ether))}})
	defer sim.Close()
	dir := t.TempDir()
	c := &Contracts{
		Nonces:  &chain.NonceStore{Dir: filepath.Join(dir, "nonces")},
		Records: &chain.RecordStore{Dir: filepath.Join(dir, "records")},
		Dial:    func(context.Context, string, uint64) (chain.Backend, error) { return sim.Client(), nil },
		Key:     func(string) (*chain.Key, error) { return key, nil },
	}
	c.Store = evstore.Dir{Root: filepath.Join(dir, "evidence")}
	art, err := evstore.PutFile(context.Background(), c.Store, "standard-output.json",
		filepath.Join("..", "deployments", "examples", "demo", "contracts", "artifacts", "standard-output.json"))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(op string, ch release.Chain) *types.Transaction {
		t.Helper()
		s, err := c.Sign(context.Background(), release.ContractTx{Chain: ch, OpKey: op, Op: release.OpDeploy,
			Contract: release.Contract{Name: "Counter", Artifact: art.Name, ArtifactBlob: &art, ContractName: "CounterV1"}})
		if err != nil {
			t.Fatal(err)
		}
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(hexutil.MustDecode(s.Raw)); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	free := sign("uncapped", release.Chain{Name: "sim", ChainID: 1337})
	capGwei := 0.5 // below the simulated chain's suggested fee cap (2 × base fee + tip)
	wantCap := big.NewInt(int64(capGwei * params.GWei))
	if free.GasFeeCap().Cmp(wantCap) <= 0 {
		t.Fatalf("uncapped fee cap %s is not above the test's cap %s: the test could not fail", free.GasFeeCap(), wantCap)
	}
	capped := sign("capped", release.Chain{Name: "sim", ChainID: 1337, MaxFeeGwei: capGwei, MaxTipGwei: 0.1})
	if capped.GasFeeCap().Cmp(wantCap) != 0 {
		t.Errorf("fee cap %s, want the policy's %s", capped.GasFeeCap(), wantCap)
	}
	if capped.GasTipCap().Cmp(big.NewInt(int64(0.1*params.GWei))) > 0 {
		t.Errorf("tip cap %s above the policy's 0.1 gwei", capped.GasTipCap())
	}
	if capped.Nonce() != free.Nonce()+1 {
		t.Errorf("nonces %d then %d: each operation gets its own", free.Nonce(), capped.Nonce())
	}
}

// refusingSigner answers every request with err, as Clef does when its user rejects one.
type refusingSigner struct{ err error }

func (s refusingSigner) SignTx(context.Context, *types.Transaction, *big.Int) (*types.Transaction, error) {
	return nil, s.err
}

func (refusingSigner) String() string { return "Clef at /run/clef/clef.ipc" }

// A refusal at the signer (rejected, account not offered, another transaction returned) is
// final for the sign step: retrying would put the same request in front of the same signer.
// A signer that cannot be reached is retried.
func TestSignerRefusalIsNotRetried(t *testing.T) {
	priv, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	addr := crypto.PubkeyToAddress(priv.PublicKey)
	sim := simulated.NewBackend(types.GenesisAlloc{addr: {Balance: new(big.Int).Mul(big.NewInt(10), big.NewInt(params.Ether))}})
	defer sim.Close()
	dir := t.TempDir()
	store := evstore.Dir{Root: filepath.Join(dir, "evidence")}
	art, err := evstore.PutFile(context.Background(), store, "standard-output.json",
		filepath.Join("..", "deployments", "examples", "demo", "contracts", "artifacts", "standard-output.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		err       error
		retryable bool
	}{
		{fmt.Errorf("key DEPLOYER: Clef at /run/clef/clef.ipc: account_signTransaction: %w: request denied", chain.ErrClefDenied), false},
		{fmt.Errorf("key DEPLOYER: Clef at /run/clef/clef.ipc: account_list: %w", chain.ErrClefAccount), false},
		{fmt.Errorf("%w: gas 2, asked 1", chain.ErrSignerMismatch), false},
		{errors.New("key DEPLOYER: Clef at /run/clef/clef.ipc: dial: connection refused"), true},
	} {
		c := &Contracts{Store: store,
			Nonces:  &chain.NonceStore{Dir: filepath.Join(dir, "nonces")},
			Records: &chain.RecordStore{Dir: filepath.Join(dir, "records")},
			Dial:    func(context.Context, string, uint64) (chain.Backend, error) { return sim.Client(), nil },
			Key: func(string) (*chain.Key, error) {
				return chain.NewSignerKey("DEPLOYER", addr, refusingSigner{tc.err}), nil
			},
		}
		_, err := c.Sign(context.Background(), release.ContractTx{Chain: release.Chain{Name: "sim", ChainID: 1337}, OpKey: "refused", Op: release.OpDeploy,
			Contract: release.Contract{Name: "Counter", Artifact: art.Name, ArtifactBlob: &art, ContractName: "CounterV1"}})
		var appErr *temporal.ApplicationError
		nonRetryable := errors.As(err, &appErr) && appErr.NonRetryable() && appErr.Type() == "SignerRefused"
		if err == nil || nonRetryable == tc.retryable || !strings.Contains(err.Error(), tc.err.Error()) {
			t.Errorf("signer error %q: Sign returned %v (non-retryable SignerRefused: %t)", tc.err, err, nonRetryable)
		}
	}
}
