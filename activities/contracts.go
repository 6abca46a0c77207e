package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/params"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/crashpoint"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

// Contracts deploys, upgrades and reverts a release's contracts, one transaction at a time in
// four activities (see release.ActivityContractsSign). Keys are loaded here, in the worker,
// by the name the policy gives; they never enter an input, a result or a log.
type Contracts struct {
	Log *zap.Logger
	// Store holds the artifacts the starter uploaded: the only place they are read from.
	Store evstore.Store
	// Nonces signs each operation once: a retried sign returns the stored bytes.
	Nonces *chain.NonceStore
	// Records are the deployment records later releases read back.
	Records *chain.RecordStore
	// Dial connects to a chain and checks its id; nil: chain.Dial (JSON-RPC).
	Dial func(ctx context.Context, rpc string, chainID uint64) (chain.Backend, error)
	// Key loads a deployer key by name; nil: chain.LoadKeyFrom (the worker's environment: a
	// keystore file or Clef), with a raw hex key accepted only as hexKeyAllowed says.
	Key func(name string) (*chain.Key, error)
	// AllowHexKeys: this worker runs dev policies (its operator set
	// SHIPGATE_ALLOW_DEV_POLICIES), so a deployer key may be a raw hex string in the
	// environment, except on a known mainnet or a governed chain. Otherwise keys are keystore
	// files or held by Clef.
	AllowHexKeys bool
	// PollInterval is how often confirmations are polled; 0: 1 s.
	PollInterval time.Duration
	// OnPoll runs after every confirmation poll (tests on a simulated chain mine a block).
	OnPoll func()
}

func (c *Contracts) dial(ctx context.Context, ch release.Chain) (chain.Backend, error) {
	dial := c.Dial
	if dial == nil {
		dial = func(ctx context.Context, rpc string, id uint64) (chain.Backend, error) {
			return chain.Dial(ctx, rpc, id)
		}
	}
	b, err := dial(ctx, ch.RPC, ch.ChainID)
	if err != nil {
		var mismatch *chain.ChainIDError
		if errors.As(err, &mismatch) {
			// a wrong chain is a configuration error: retrying will not fix it
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("chain %s: %v", ch.Name, err), "ChainIDMismatch", err)
		}
		return nil, fmt.Errorf("chain %s: %w", ch.Name, err)
	}
	return b, nil
}

// pollInterval is how often the worker reads the chain while it waits: PollInterval, or a
// second when unset.
func (c *Contracts) pollInterval() time.Duration {
	if c.PollInterval <= 0 {
		return time.Second
	}
	return c.PollInterval
}

// crash is a test crash point (package crashpoint; nothing in a default build): the point
// alone stops at every operation, point/op at one (e.g. broadcast/exec-safe).
func (c *Contracts) crash(point, op string) {
	crashpoint.Reach(c.Log, point, point+"/"+op)
}

// loadArtifact reads one contract of an artifact from the evidence store, by the digest the
// starter uploaded it under (never a path); a missing, corrupt or bad artifact is not retried.
func (c *Contracts) loadArtifact(ctx context.Context, b *release.Blob, name string) (*chain.Artifact, error) {
	if b == nil {
		err := errors.New("the release names the artifact by path: this worker reads artifacts only from the evidence store (start the release again with a current starter)")
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "BadArtifact", err)
	}
	if c.Store == nil {
		return nil, temporal.NewNonRetryableApplicationError("the worker has no evidence store", "NoEvidenceStore", nil)
	}
	data, err := c.Store.Get(ctx, *b)
	if err != nil {
		if evstore.Permanent(err) {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("artifact %s: %v", b.Name, err), "BadArtifact", err)
		}
		return nil, fmt.Errorf("artifact %s: %w", b.Name, err)
	}
	a, err := chain.ParseArtifact(b.Name, data, name)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "BadArtifact", err)
	}
	return a, nil
}

// ArtifactDigest is what "the same bytecode" means between testnet and mainnet: the SHA-256
// of the creation code and the deployed code.
func ArtifactDigest(a *chain.Artifact) string {
	h := sha256.New()
	h.Write(a.Bytecode)
	h.Write([]byte{0})
	h.Write(a.DeployedBytecode)
	return hex.EncodeToString(h.Sum(nil))
}

// implRecord is the record name of a proxy's implementations: the proxy's own history is
// under the contract's name.
func implRecord(contract string) string { return contract + ".impl" }

// Plan reads what a release's contracts need on one chain: each artifact's digest and, for a
// proxy, the proxy recorded by an earlier release (checked against the chain) with its current
// implementation from the EIP-1967 slot, the rollback target. A new implementation whose
// storage layout is not compatible with the one deployed (as recorded, not as on disk) is
// refused here, naming the variable, before any transaction.
func (c *Contracts) Plan(ctx context.Context, req release.ContractsPlanRequest) (release.ContractsPlan, error) {
	b, err := c.dial(ctx, req.Chain)
	if err != nil {
		return release.ContractsPlan{}, err
	}
	out := release.ContractsPlan{Chain: req.Chain.Name, ChainID: req.Chain.ChainID}
	if err := c.checkGovernance(ctx, b, req.Chain); err != nil {
		return out, err
	}
	for _, ct := range req.Contracts {
		a, err := c.loadArtifact(ctx, ct.ArtifactBlob, ct.ArtifactContract())
		if err != nil {
			return out, err
		}
		p := release.ContractPlan{Contract: ct.Name, ArtifactDigest: ArtifactDigest(a)}
		if ct.Proxy != nil {
			if err := c.planProxy(ctx, b, req.Chain, ct, a, &p); err != nil {
				return out, err
			}
		}
		out.Contracts = append(out.Contracts, p)
	}
	return out, nil
}

func (c *Contracts) planProxy(ctx context.Context, b chain.Backend, ch release.Chain, ct release.Contract, a *chain.Artifact, p *release.ContractPlan) error {
	rec, err := c.Records.LatestVerified(ctx, b, ch.ChainID, ct.Name)
	if errors.Is(err, chain.ErrNoRecord) {
		if ct.Proxy.Artifact == "" {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("contract %s on %s: no proxy deployed yet and proxy.artifact is not set: the first release must name the proxy's artifact", ct.Name, ch.Name), "NoProxy", nil)
		}
		return nil
	}
	if err != nil {
		if errors.Is(err, chain.ErrRecordMismatch) {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("contract %s on %s: %v", ct.Name, ch.Name, err), "RecordMismatch", err)
		}
		return fmt.Errorf("contract %s on %s: %w", ct.Name, ch.Name, err)
	}
	impl, err := chain.ReadImplementation(ctx, b, rec.Address)
	if err != nil {
		return fmt.Errorf("contract %s on %s: %w", ct.Name, ch.Name, err)
	}
	p.Proxy, p.Implementation = rec.Address.Hex(), impl.Hex()
	current, err := c.implementationRecord(ct.Name, ch.ChainID, impl)
	if err != nil {
		return err
	}
	if current.StorageLayout == nil || a.StorageLayout == nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("contract %s on %s: storage layout missing (deployed %s: %t, new %s: %t); compile with storageLayout output",
			ct.Name, ch.Name, current.ArtifactName, current.StorageLayout != nil, a.Name, a.StorageLayout != nil), "NoStorageLayout", nil)
	}
	if current.ArtifactDigest == p.ArtifactDigest {
		return nil // the same code again: nothing to compare
	}
	if err := chain.CheckLayoutCompatible(current.StorageLayout, a.StorageLayout); err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("contract %s on %s: upgrade from %s (deployed by %s) to %s refused: %v",
			ct.Name, ch.Name, current.ArtifactName, current.Release, a.Name, err), "StorageLayoutIncompatible", err)
	}
	return nil
}

// implementationRecord finds the record of the implementation a proxy points at: its layout
// and artifact digest as deployed, whatever artifact is on disk today.
func (c *Contracts) implementationRecord(contract string, chainID uint64, impl common.Address) (chain.Record, error) {
	hist, err := c.Records.History(chainID, implRecord(contract))
	if err != nil {
		return chain.Record{}, err
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Address == impl {
			return hist[i], nil
		}
	}
	return chain.Record{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("contract %s on chain %d: the proxy points at %s, which no deployment record knows: someone upgraded it outside shipgate", contract, chainID, impl.Hex()), "UnknownImplementation", nil)
}

// Sign prepares and signs one transaction under the nonce store: its bytes, hash and (for a
// creation) address enter history before anything is sent.
func (c *Contracts) Sign(ctx context.Context, req release.ContractTx) (release.SignedTx, error) {
	b, err := c.dial(ctx, req.Chain)
	if err != nil {
		return release.SignedTx{}, err
	}
	key, err := c.loadKey(req.Chain)
	if err != nil {
		return release.SignedTx{}, err
	}
	var s *chain.SignedTx
	if release.GovernedOp(req.Op) {
		s, err = c.governedSign(ctx, b, key, req)
	} else {
		txReq, rerr := c.txRequest(ctx, req)
		if rerr != nil {
			return release.SignedTx{}, rerr
		}
		if err := c.feeCaps(ctx, b, req.Chain, &txReq); err != nil {
			return release.SignedTx{}, err
		}
		s, err = chain.SignTx(ctx, b, key, c.Nonces, txReq)
	}
	if err != nil {
		var revert *chain.TxError
		if errors.As(err, &revert) {
			return release.SignedTx{}, temporal.NewNonRetryableApplicationError(err.Error(), "TxRefused", err)
		}
		if errors.Is(err, chain.ErrClefDenied) || errors.Is(err, chain.ErrClefAccount) || errors.Is(err, chain.ErrSignerMismatch) {
			// a person or a rule at the signer said no, or the signer is not configured with
			// this account, or it answered with another transaction: asking again would put the
			// same request in front of the same signer. An unreachable or slow Clef is retried.
			return release.SignedTx{}, temporal.NewNonRetryableApplicationError(err.Error(), "SignerRefused", err)
		}
		return release.SignedTx{}, err
	}
	if c.Log != nil {
		c.Log.Info("contract transaction signed", zap.String("op", req.OpKey), zap.String("tx", s.Hash.Hex()), zap.Uint64("nonce", s.Nonce))
	}
	c.crash("sign", req.Op)
	return signedOut(s), nil
}

// hexKeyAllowed is the one rule for raw hex deployer keys: a dev worker, a chain that is
// neither a known mainnet nor governed.
func (c *Contracts) hexKeyAllowed(ch release.Chain) bool {
	_, mainnet := release.KnownMainnets[ch.ChainID]
	return c.AllowHexKeys && !mainnet && ch.Governance == nil
}

func (c *Contracts) loadKey(ch release.Chain) (*chain.Key, error) {
	load := c.Key
	if load == nil {
		load = func(name string) (*chain.Key, error) { return chain.LoadKeyFrom(name, c.hexKeyAllowed(ch)) }
	}
	k, err := load(ch.Deployer)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("deployer key: %v", err), "NoKey", nil)
	}
	return k, nil
}

// txRequest builds the transaction's data from the operation.
func (c *Contracts) txRequest(ctx context.Context, req release.ContractTx) (chain.TxRequest, error) {
	ct := req.Contract
	bad := func(err error) (chain.TxRequest, error) {
		return chain.TxRequest{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("contract %s: %s: %v", ct.Name, req.Op, err), "BadContract", err)
	}
	out := chain.TxRequest{OpKey: req.OpKey}
	switch req.Op {
	case release.OpDeploy:
		a, err := c.loadArtifact(ctx, ct.ArtifactBlob, ct.ArtifactContract())
		if err != nil {
			return out, err
		}
		if out.Data, err = a.DeployData(ct.Args); err != nil {
			return bad(err)
		}
		out.ErrorABI = &a.ABI
	case release.OpDeployProxy:
		if ct.Proxy == nil || ct.Proxy.Artifact == "" {
			return bad(errors.New("proxy.artifact is required to deploy the proxy"))
		}
		impl, err := c.loadArtifact(ctx, ct.ArtifactBlob, ct.ArtifactContract())
		if err != nil {
			return out, err
		}
		var init []byte
		if ct.Proxy.Initializer != "" {
			if init, err = impl.EncodeCall(ct.Proxy.Initializer, ct.Proxy.InitArgs); err != nil {
				return bad(err)
			}
		}
		pa, err := c.loadArtifact(ctx, ct.Proxy.ArtifactBlob, ct.Proxy.ArtifactContract())
		if err != nil {
			return out, err
		}
		if out.Data, err = pa.DeployData([]string{req.Implementation, hexutil.Encode(init)}); err != nil {
			return bad(err)
		}
		out.ErrorABI = &impl.ABI
	case release.OpUpgrade, release.OpRevert:
		if req.Chain.Governance != nil {
			// release validation refuses such a release; this holds even if one got through
			return bad(fmt.Errorf("chain %s is governed: its proxies switch only through Safe %s, never with the worker's key", req.Chain.Name, req.Chain.Governance.Safe))
		}
		if !common.IsHexAddress(req.Proxy) || !common.IsHexAddress(req.Implementation) {
			return bad(fmt.Errorf("proxy %q and implementation %q must be addresses", req.Proxy, req.Implementation))
		}
		to := common.HexToAddress(req.Proxy)
		out.To = &to
		out.Data = chain.UpgradeToAndCallData(common.HexToAddress(req.Implementation), nil)
		if impl, err := c.loadArtifact(ctx, ct.ArtifactBlob, ct.ArtifactContract()); err == nil {
			out.ErrorABI = &impl.ABI
		}
	default:
		return bad(fmt.Errorf("unknown operation %q", req.Op))
	}
	return out, nil
}

// feeCaps applies the policy's EIP-1559 caps to the node's suggestion.
func (c *Contracts) feeCaps(ctx context.Context, b chain.Backend, ch release.Chain, req *chain.TxRequest) error {
	if ch.MaxFeeGwei == 0 && ch.MaxTipGwei == 0 {
		return nil
	}
	tip, feeCap, err := chain.SuggestFees(ctx, b)
	if err != nil {
		return err
	}
	gwei := func(g float64) *big.Int {
		v, _ := new(big.Float).Mul(big.NewFloat(g), big.NewFloat(params.GWei)).Int(nil)
		return v
	}
	if ch.MaxTipGwei > 0 && tip.Cmp(gwei(ch.MaxTipGwei)) > 0 {
		tip = gwei(ch.MaxTipGwei)
	}
	if ch.MaxFeeGwei > 0 && feeCap.Cmp(gwei(ch.MaxFeeGwei)) > 0 {
		feeCap = gwei(ch.MaxFeeGwei)
	}
	if tip.Cmp(feeCap) > 0 {
		tip = feeCap
	}
	req.GasTipCap, req.GasFeeCap = tip, feeCap
	return nil
}

func signedOut(s *chain.SignedTx) release.SignedTx {
	out := release.SignedTx{Raw: hexutil.Encode(s.Raw), Hash: s.Hash.Hex(), ChainID: s.ChainID, From: s.From.Hex(), Nonce: s.Nonce}
	if s.To != nil {
		out.To = s.To.Hex()
	}
	if s.ContractAddress != nil {
		out.ContractAddress = s.ContractAddress.Hex()
	}
	return out
}

func rawBytes(s release.SignedTx) ([]byte, error) {
	raw, err := hexutil.Decode(s.Raw)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("signed tx %s: %v", s.Hash, err), "BadSignedTx", err)
	}
	return raw, nil
}

// Broadcast sends the signed bytes. Sending them again is harmless: a node that knows the
// transaction, or has mined it, says so and that is success.
func (c *Contracts) Broadcast(ctx context.Context, step release.ContractTxStep) error {
	b, err := c.dial(ctx, step.Tx.Chain)
	if err != nil {
		return err
	}
	raw, err := rawBytes(step.Signed)
	if err != nil {
		return err
	}
	if _, err := chain.Broadcast(ctx, b, raw); err != nil {
		var txe *chain.TxError
		if errors.As(err, &txe) {
			return temporal.NewNonRetryableApplicationError(err.Error(), "TxRefused", err)
		}
		return err
	}
	c.crash("broadcast", step.Tx.Op)
	return nil
}

// Confirm waits until the transaction has the chain's confirmations, heartbeating its
// progress; if a reorg or the pool drops it, the same bytes are sent again.
func (c *Contracts) Confirm(ctx context.Context, step release.ContractTxStep) (release.TxReceipt, error) {
	b, err := c.dial(ctx, step.Tx.Chain)
	if err != nil {
		return release.TxReceipt{}, err
	}
	raw, err := rawBytes(step.Signed)
	if err != nil {
		return release.TxReceipt{}, err
	}
	poll := c.pollInterval()
	polls := 0
	conf, err := chain.WaitConfirmed(ctx, b, raw, chain.WaitOptions{
		Confirmations: uint64(step.Tx.Chain.Confirmations), PollInterval: poll,
		OnProgress: func(p chain.WaitProgress) {
			activity.RecordHeartbeat(ctx, fmt.Sprintf("%s: %d confirmations", p.State, p.Confirmations))
			if c.OnPoll != nil {
				c.OnPoll()
			}
			if polls++; polls == 1 {
				c.crash("confirm", step.Tx.Op)
			}
		},
	})
	if err != nil {
		var txe *chain.TxError
		if errors.As(err, &txe) {
			if errors.Is(err, chain.ErrReverted) && release.SafeExecOp(step.Tx.Op) {
				return release.TxReceipt{}, c.explainGovRevert(ctx, b, step.Tx, err)
			}
			return release.TxReceipt{}, temporal.NewNonRetryableApplicationError(err.Error(), "TxFailed", err)
		}
		return release.TxReceipt{}, err
	}
	return release.TxReceipt{Block: conf.BlockNumber, BlockHash: conf.BlockHash.Hex(), GasUsed: conf.GasUsed,
		Confirmations: conf.Confirmations, Rebroadcasts: conf.Rebroadcasts}, nil
}

// Record proves what the transaction left on chain and writes the deployment record: the
// code at a new address must be the artifact's (immutables and metadata handled), a proxy's
// EIP-1967 slot must hold the implementation asked for. A mismatch fails the step. Writing
// the record again after a retry changes nothing (records are keyed by transaction).
func (c *Contracts) Record(ctx context.Context, step release.ContractTxStep) (release.ContractDeployment, error) {
	b, err := c.dial(ctx, step.Tx.Chain)
	if err != nil {
		return release.ContractDeployment{}, err
	}
	tx, ct := step.Tx, step.Tx.Contract
	rec := chain.Record{ChainID: tx.Chain.ChainID, Contract: ct.Name, Release: tx.ReleaseID,
		TxHash: common.HexToHash(step.Signed.Hash), BlockNumber: step.Receipt.Block,
		BlockHash: common.HexToHash(step.Receipt.BlockHash), RecordedAt: time.Now().UTC()}
	mismatch := func(err error) error {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("contract %s on %s: %v", ct.Name, tx.Chain.Name, err), "CodeMismatch", err)
	}
	switch tx.Op {
	case release.OpDeploy, release.OpDeployProxy:
		name, blob := ct.ArtifactContract(), ct.ArtifactBlob
		rec.Kind = chain.KindContract
		if ct.Proxy != nil {
			rec.Kind, rec.Contract = chain.KindImplementation, implRecord(ct.Name)
		}
		if tx.Op == release.OpDeployProxy {
			name, blob, rec.Kind, rec.Contract = ct.Proxy.ArtifactContract(), ct.Proxy.ArtifactBlob, chain.KindProxy, ct.Name
		}
		a, err := c.loadArtifact(ctx, blob, name)
		if err != nil {
			return release.ContractDeployment{}, err
		}
		rec.Address = common.HexToAddress(step.Signed.ContractAddress)
		check, err := chain.VerifyCode(ctx, b, rec.Address, a)
		if err != nil {
			if errors.Is(err, chain.ErrCodeMismatch) {
				return release.ContractDeployment{}, mismatch(err)
			}
			return release.ContractDeployment{}, err
		}
		rec.CodeHash, rec.ArtifactName, rec.ArtifactDigest, rec.StorageLayout = check.CodeHash, a.Name, ArtifactDigest(a), a.StorageLayout
		if tx.Op == release.OpDeployProxy {
			impl := common.HexToAddress(tx.Implementation)
			if err := chain.VerifyImplementation(ctx, b, rec.Address, impl); err != nil {
				return release.ContractDeployment{}, mismatch(err)
			}
			rec.Implementation, rec.StorageLayout = &impl, nil
		}
	case release.OpGovExecSafe, release.OpGovCancel, release.OpGovReject:
		return c.recordGoverned(ctx, b, step)
	case release.OpUpgrade, release.OpRevert, release.OpGovUpgrade, release.OpGovRevert:
		proxy, impl := common.HexToAddress(tx.Proxy), common.HexToAddress(tx.Implementation)
		if err := chain.VerifyImplementation(ctx, b, proxy, impl); err != nil {
			return release.ContractDeployment{}, mismatch(err)
		}
		prev, err := c.Records.Latest(tx.Chain.ChainID, ct.Name)
		if err != nil {
			return release.ContractDeployment{}, fmt.Errorf("contract %s on %s: the proxy's record: %w", ct.Name, tx.Chain.Name, err)
		}
		rec.Kind, rec.Address, rec.CodeHash, rec.ArtifactName, rec.ArtifactDigest = chain.KindProxy, proxy, prev.CodeHash, prev.ArtifactName, prev.ArtifactDigest
		rec.Implementation = &impl
	default:
		return release.ContractDeployment{}, temporal.NewNonRetryableApplicationError("unknown operation "+tx.Op, "BadContract", nil)
	}
	saved, err := c.Records.Append(rec)
	if err != nil {
		return release.ContractDeployment{}, err
	}
	out := release.ContractDeployment{Chain: tx.Chain.Name, ChainID: tx.Chain.ChainID, Contract: ct.Name, Op: tx.Op, Kind: saved.Kind,
		Address: saved.Address.Hex(), TxHash: step.Signed.Hash, Nonce: step.Signed.Nonce, Block: step.Receipt.Block,
		Confirmations: step.Receipt.Confirmations, CodeHash: saved.CodeHash.Hex(), ArtifactDigest: saved.ArtifactDigest, At: saved.RecordedAt}
	if saved.Implementation != nil {
		out.Implementation = saved.Implementation.Hex()
	}
	return out, nil
}
