package devstack

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/google/uuid"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/chain/safe"
	"github.com/shipgate/shipgate/internal/release"
)

// KeystoreEnv writes the hex private key in keyFile (as DeployerKey keeps it) as a
// go-ethereum keystore (V3) file under dir, with a fresh random passphrase, and returns the
// worker's variables for key name (SHIPGATE_KEYSTORE_<NAME> and its passphrase): the form a
// worker must use on a governed chain, where raw hex keys are refused even under the dev
// profile. Light scrypt parameters: the file guards a test key.
func KeystoreEnv(name, keyFile, dir string) ([]string, error) {
	pk, err := crypto.LoadECDSA(keyFile)
	if err != nil {
		return nil, fmt.Errorf("keystore for %s: %w", name, err)
	}
	pass := make([]byte, 16)
	if _, err := rand.Read(pass); err != nil {
		return nil, err
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return nil, err
	}
	blob, err := keystore.EncryptKey(&keystore.Key{Id: id, Address: crypto.PubkeyToAddress(pk.PublicKey), PrivateKey: pk}, hex.EncodeToString(pass), keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		return nil, fmt.Errorf("keystore for %s: %w", name, err)
	}
	path := filepath.Join(dir, strings.ToLower(name)+".keystore.json")
	if err := os.WriteFile(path, blob, 0o600); err != nil {
		return nil, err
	}
	env := strings.ReplaceAll(strings.ToUpper(name), "-", "_")
	return []string{chain.EnvKeystoreFile + env + "=" + path, chain.EnvKeystorePass + env + "=" + hex.EncodeToString(pass)}, nil
}

// GovernedChain is a dev chain governed the way a serious team's mainnet is: a Safe v1.5.0 of
// owners with wallets of their own (test keys, or the demo's people), MultiSendCallOnly and a TimelockController
// whose proposer and canceller is the Safe and whose executor is the worker. The owners
// approve proposals on chain (approveHash) from their own keys.
type GovernedChain struct {
	RPC       string
	ChainID   uint64
	Gov       safe.Governance
	Owners    []*chain.Key // sorted by address
	Threshold int
	Delay     time.Duration

	nonces *chain.NonceStore // the owners' and the deployer's transactions here
	// privs are the owners' private keys, for their keystore files (OwnerKeystoreEnv)
	privs map[common.Address]*ecdsa.PrivateKey
	mu    sync.Mutex
	// Approved records, per safeTxHash, when the threshold's last approveHash was mined.
	Approved map[common.Hash]time.Time
}

// Wallet is a Safe owner's key and the name the demo prints for them.
type Wallet struct {
	Name string
	Key  *ecdsa.PrivateKey
}

// NewWallets are n fresh owners' keys named owner1…ownerN: test owners with nobody behind them.
func NewWallets(n int) ([]Wallet, error) {
	ws := make([]Wallet, n)
	for i := range ws {
		k, err := crypto.GenerateKey()
		if err != nil {
			return nil, err
		}
		ws[i] = Wallet{Name: fmt.Sprintf("owner%d", i+1), Key: k}
	}
	return ws, nil
}

// newGovernedChain funds the owners from the dev account and keeps their keys, sorted by
// address as the Safe lists them. Its transactions go through the nonce store in dir: the
// worker's own (SHIPGATE_CHAIN_DATA/nonces) when the deployer is the worker's key, so the two
// never reuse a nonce.
func newGovernedChain(ctx context.Context, rpc string, chainID uint64, dir string, owners []Wallet) (*GovernedChain, error) {
	g := &GovernedChain{RPC: rpc, ChainID: chainID, nonces: &chain.NonceStore{Dir: dir}, Approved: map[common.Hash]time.Time{}, privs: map[common.Address]*ecdsa.PrivateKey{}}
	for _, w := range owners {
		k := chain.NewKey(w.Name, w.Key)
		g.privs[k.Address] = w.Key
		if _, err := FundFromDev(ctx, rpc, k.Address, big.NewInt(params.Ether)); err != nil {
			return nil, fmt.Errorf("fund Safe owner %s: %w", w.Name, err)
		}
		g.Owners = append(g.Owners, k)
	}
	slices.SortFunc(g.Owners, func(a, b *chain.Key) int { return a.Address.Cmp(b.Address) })
	return g, nil
}

// DeployGovernedChain deploys the governance contracts on a dev chain with deployer's key
// (through the nonce store in dir) with owners as the Safe's owners, funded from the dev
// account.
func DeployGovernedChain(ctx context.Context, rpc string, chainID uint64, deployer *chain.Key, dir string, owners []Wallet, threshold int, delay time.Duration, executor common.Address) (*GovernedChain, error) {
	g, err := newGovernedChain(ctx, rpc, chainID, dir, owners)
	if err != nil {
		return nil, err
	}
	g.Threshold, g.Delay = threshold, delay
	var addrs []common.Address
	for _, o := range g.Owners {
		addrs = append(addrs, o.Address)
	}
	c, err := chain.Dial(ctx, rpc, chainID)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	g.Gov, err = safe.DeployGovernance(ctx, c, deployer.Address, func(ctx context.Context, opKey string, to *common.Address, data []byte) (*chain.SignedTx, error) {
		tx, _, err := g.send(ctx, deployer, opKey, to, data)
		return tx, err
	}, "devstack/governance", addrs, uint64(threshold), uint64(delay.Seconds()), executor)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// OpenGovernedChain is governance deployed earlier (its addresses kept, e.g., in a stack's
// file) as the chain has it now: the Safe's owners must be exactly owners, and its threshold
// and the timelock's delay are read from the chain. A chain that lost it (a fresh data dir)
// or a Safe of other owners is an error.
func OpenGovernedChain(ctx context.Context, rpc string, chainID uint64, dir string, gov safe.Governance, owners []Wallet) (*GovernedChain, error) {
	c, err := chain.Dial(ctx, rpc, chainID)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st, err := safe.ReadState(ctx, c, gov, common.Address{})
	if err != nil {
		return nil, err
	}
	g, err := newGovernedChain(ctx, rpc, chainID, dir, owners)
	if err != nil {
		return nil, err
	}
	want := make([]common.Address, len(g.Owners))
	for i, o := range g.Owners {
		want[i] = o.Address
	}
	have := slices.Clone(st.Owners)
	slices.SortFunc(have, func(a, b common.Address) int { return a.Cmp(b) })
	if !slices.Equal(have, want) {
		return nil, fmt.Errorf("the Safe %s on chain %d has owners %v, want %v", gov.Safe.Hex(), chainID, have, want)
	}
	g.Gov, g.Threshold, g.Delay = gov, int(st.Threshold), time.Duration(st.MinDelay)*time.Second
	return g, nil
}

// Send signs key's transaction under the chain's test nonce store, broadcasts it and waits
// for it to be mined (one confirmation).
func (g *GovernedChain) Send(ctx context.Context, key *chain.Key, opKey string, to *common.Address, data []byte) (*chain.SignedTx, error) {
	st, _, err := g.send(ctx, key, opKey, to, data)
	return st, err
}

// send is Send that also returns where the transaction was mined.
func (g *GovernedChain) send(ctx context.Context, key *chain.Key, opKey string, to *common.Address, data []byte) (*chain.SignedTx, *chain.Confirmed, error) {
	c, err := chain.Dial(ctx, g.RPC, g.ChainID)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	st, err := chain.SignTx(ctx, c, key, g.nonces, chain.TxRequest{OpKey: opKey, To: to, Data: data})
	if err != nil {
		return nil, nil, err
	}
	if _, err := chain.Broadcast(ctx, c, st.Raw); err != nil {
		return nil, nil, err
	}
	conf, err := chain.WaitConfirmed(ctx, c, st.Raw, chain.WaitOptions{Confirmations: 1, PollInterval: 100 * time.Millisecond})
	if err != nil {
		return nil, nil, err
	}
	return st, conf, nil
}

// HandOver makes the timelock the owner of an Ownable (UUPS) proxy: from then on only a
// scheduled, delayed operation can upgrade it. owner is the proxy's current owner.
func (g *GovernedChain) HandOver(ctx context.Context, owner *chain.Key, proxy common.Address) error {
	data, err := transferOwnershipABI.Pack("transferOwnership", g.Gov.Timelock)
	if err != nil {
		return err
	}
	_, err = g.Send(ctx, owner, "devstack/hand-over/"+proxy.Hex(), &proxy, data)
	return err
}

// HandedOver makes sure the timelock owns an Ownable proxy, handing it over from owner when
// owner still holds it; it reports whether it sent the hand-over. A proxy someone else owns
// is an error: the demo could not upgrade it through the timelock.
func (g *GovernedChain) HandedOver(ctx context.Context, owner *chain.Key, proxy common.Address) (bool, error) {
	c, err := chain.Dial(ctx, g.RPC, g.ChainID)
	if err != nil {
		return false, err
	}
	defer c.Close()
	data, err := transferOwnershipABI.Pack("owner")
	if err != nil {
		return false, err
	}
	out, err := c.CallContract(ctx, ethereum.CallMsg{To: &proxy, Data: data}, nil)
	if err != nil {
		return false, fmt.Errorf("owner() of %s: %w", proxy.Hex(), err)
	}
	vals, err := transferOwnershipABI.Unpack("owner", out)
	if err != nil {
		return false, fmt.Errorf("owner() of %s: %w", proxy.Hex(), err)
	}
	switch now := vals[0].(common.Address); now {
	case g.Gov.Timelock:
		return false, nil
	case owner.Address:
		return true, g.HandOver(ctx, owner, proxy)
	default:
		return false, fmt.Errorf("proxy %s is owned by %s, neither the timelock %s nor %s", proxy.Hex(), now.Hex(), g.Gov.Timelock.Hex(), owner.Address.Hex())
	}
}

var transferOwnershipABI = func() abi.ABI {
	a, err := abi.JSON(strings.NewReader(`[{"type":"function","name":"transferOwnership","stateMutability":"nonpayable","inputs":[{"name":"newOwner","type":"address"}],"outputs":[]},
		{"type":"function","name":"owner","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"address"}]}]`))
	if err != nil {
		panic(err)
	}
	return a
}()

// Policy is the chain's governance as a policy names it.
func (g *GovernedChain) Policy() release.Governance {
	p := release.Governance{Safe: g.Gov.Safe.Hex(), Timelock: g.Gov.Timelock.Hex(), MultiSend: g.Gov.MultiSend.Hex(), Threshold: g.Threshold, MinDelay: release.Duration(g.Delay)}
	for _, o := range g.Owners {
		p.Owners = append(p.Owners, o.Address.Hex())
	}
	return p
}

// PolicyYAML is Policy in YAML flow style, to append to a chain's line in a policy file.
func (g *GovernedChain) PolicyYAML() string {
	p := g.Policy()
	return fmt.Sprintf(`governance: {safe: %q, timelock: %q, multiSend: %q, owners: ["%s"], threshold: %d, minDelay: %s}`,
		p.Safe, p.Timelock, p.MultiSend, strings.Join(p.Owners, `", "`), p.Threshold, p.MinDelay)
}

// OwnerTx is one owner's transaction on the Safe, where it was mined.
type OwnerTx struct {
	Owner *chain.Key
	Tx    *chain.SignedTx
	Mined *chain.Confirmed
}

// ApproveHash has the first n owners approve hash on chain, each from their own key, and
// records when the last approval was mined. It returns their transactions.
func (g *GovernedChain) ApproveHash(ctx context.Context, hash common.Hash, n int) ([]OwnerTx, error) {
	data, err := safe.ApproveHashData(hash)
	if err != nil {
		return nil, err
	}
	var txs []OwnerTx
	for _, o := range g.Owners[:n] {
		tx, mined, err := g.send(ctx, o, "approve/"+hash.Hex(), &g.Gov.Safe, data)
		if err != nil {
			return txs, fmt.Errorf("approveHash by %s (%s): %w", o.Name, o.Address.Hex(), err)
		}
		txs = append(txs, OwnerTx{Owner: o, Tx: tx, Mined: mined})
	}
	g.mu.Lock()
	g.Approved[hash] = time.Now()
	g.mu.Unlock()
	return txs, nil
}

// ApprovedAt is when the threshold's last approveHash of hash was mined (zero: not approved).
func (g *GovernedChain) ApprovedAt(hash common.Hash) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.Approved[hash]
}

// Approvers is a round of the Safe's owners for FollowWith: every governed upgrade of this
// chain awaiting approvals, and every cancellation of one after an abort, is approved by the
// threshold of owners, once. It says what each owner sent, one line per transaction.
func (g *GovernedChain) Approvers(chainName string) Approve {
	return func(ctx context.Context, st release.Status) ([]string, error) {
		var did []string
		for _, u := range st.Governance {
			hash, what := u.SafeTxHash, "safeTxHash"
			switch {
			case u.Chain != chainName:
				continue
			case u.Phase == release.GovCancelling && u.CancelSafeTxHash != "":
				hash, what = u.CancelSafeTxHash, "the cancellation, safeTxHash"
			case u.Phase != release.GovProposed:
				continue
			}
			h := common.HexToHash(hash)
			if !g.ApprovedAt(h).IsZero() {
				continue
			}
			txs, err := g.ApproveHash(ctx, h, g.Threshold)
			for _, t := range txs {
				did = append(did, fmt.Sprintf("%s (Safe owner %s) approveHash of %s %s (%s): tx %s, block %d",
					t.Owner.Name, t.Owner.Address.Hex(), what, hash, u.Contract, t.Tx.Hash.Hex(), t.Mined.BlockNumber))
			}
			if err != nil {
				return did, err
			}
		}
		return did, nil
	}
}

// OperationCancelled reads whether the timelock holds operation id no more (isOperation
// false) and emitted Cancelled(id) for it: the proof an aborted release's scheduled upgrade
// was taken back.
func (g *GovernedChain) OperationCancelled(ctx context.Context, id common.Hash) (bool, error) {
	c, err := chain.Dial(ctx, g.RPC, g.ChainID)
	if err != nil {
		return false, err
	}
	defer c.Close()
	st, _, err := safe.OpState(ctx, c, g.Gov.Timelock, id)
	if err != nil || st != safe.OpUnset {
		return false, err
	}
	logs, err := c.FilterLogs(ctx, safe.CancelledFilter(g.Gov.Timelock, id))
	if err != nil {
		return false, err
	}
	return len(logs) == 1, nil
}

// SafeNonce is the Safe's nonce: it moves when a Safe transaction executes (the proposal's
// execTransaction scheduled its operations, or the owners used the nonce otherwise).
func (g *GovernedChain) SafeNonce(ctx context.Context) (uint64, error) {
	c, err := chain.Dial(ctx, g.RPC, g.ChainID)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	st, err := safe.ReadState(ctx, c, g.Gov, common.Address{})
	if err != nil {
		return 0, err
	}
	return st.Nonce, nil
}

// OwnersExecute is the owners executing a proposal's Safe transaction themselves, as they may
// whenever the threshold is met, without the worker: all but one of the threshold approve its
// hash on chain, and the last one sends execTransaction (the Safe counts its sender as its
// approval), so the Safe's approvals never show the threshold met before it executes. The
// transaction is rebuilt from the proposal's fields and its hash recomputed from them.
func (g *GovernedChain) OwnersExecute(ctx context.Context, proposal []byte) (common.Hash, error) {
	var p safe.Proposal
	if err := json.Unmarshal(proposal, &p); err != nil {
		return common.Hash{}, fmt.Errorf("proposal: %w", err)
	}
	h, err := p.SafeTx.Hash()
	if err != nil {
		return common.Hash{}, err
	}
	if _, err := g.ApproveHash(ctx, h, g.Threshold-1); err != nil {
		return h, err
	}
	var sigs []safe.Signature
	for _, o := range g.Owners[:g.Threshold] {
		sigs = append(sigs, safe.Signature{Owner: o.Address})
	}
	enc, err := safe.EncodeSignatures(h, sigs)
	if err != nil {
		return h, err
	}
	data, err := safe.ExecTransactionData(p.SafeTx, enc)
	if err != nil {
		return h, err
	}
	_, err = g.Send(ctx, g.Owners[g.Threshold-1], "owner-exec/"+h.Hex(), &p.SafeTx.Safe, data)
	return h, err
}

// OwnerKeystoreEnv writes owner i's key (in address order) as a keystore file under dir and
// returns the CLI's variables for key name: how an owner hands safe-sign their key.
func (g *GovernedChain) OwnerKeystoreEnv(i int, name, dir string) ([]string, error) {
	f := filepath.Join(dir, name+".hex")
	if err := crypto.SaveECDSA(f, g.privs[g.Owners[i].Address]); err != nil {
		return nil, err
	}
	defer os.Remove(f)
	return KeystoreEnv(name, f, dir)
}

// OnChain is what the chain says about a governed upgrade: the Safe's nonce, the states of the
// timelock's two operations (the upgrade and the revert scheduled alongside it) and the
// implementation the proxy runs.
type OnChain struct {
	SafeNonce             uint64
	UpgradeID             common.Hash
	Upgrade               safe.OperationState
	RevertID              common.Hash
	Revert                safe.OperationState
	Proxy, Implementation common.Address
}

// Read reads a proposal's (GovernedUpgrade.Proposal) upgrade on the chain.
func (g *GovernedChain) Read(ctx context.Context, proposal json.RawMessage) (OnChain, error) {
	var p safe.Proposal
	if err := json.Unmarshal(proposal, &p); err != nil {
		return OnChain{}, fmt.Errorf("proposal: %w", err)
	}
	c, err := chain.Dial(ctx, g.RPC, g.ChainID)
	if err != nil {
		return OnChain{}, err
	}
	defer c.Close()
	o := OnChain{UpgradeID: p.Upgrade.ID, RevertID: p.Revert.ID, Proxy: p.Request.Proxy}
	st, err := safe.ReadState(ctx, c, g.Gov, common.Address{})
	if err != nil {
		return o, err
	}
	o.SafeNonce = st.Nonce
	if o.Upgrade, _, err = safe.OpState(ctx, c, g.Gov.Timelock, o.UpgradeID); err != nil {
		return o, err
	}
	if o.Revert, _, err = safe.OpState(ctx, c, g.Gov.Timelock, o.RevertID); err != nil {
		return o, err
	}
	o.Implementation, err = chain.ReadImplementation(ctx, c, o.Proxy)
	return o, err
}

// Lines are the on-chain facts as the demo prints them.
func (o OnChain) Lines() []string {
	return []string{
		fmt.Sprintf("Safe nonce %d", o.SafeNonce),
		fmt.Sprintf("timelock operation upgrade %s: %s", o.UpgradeID.Hex(), o.Upgrade),
		fmt.Sprintf("timelock operation revert %s: %s", o.RevertID.Hex(), o.Revert),
		fmt.Sprintf("proxy %s runs implementation %s (EIP-1967 slot)", o.Proxy.Hex(), o.Implementation.Hex()),
	}
}
