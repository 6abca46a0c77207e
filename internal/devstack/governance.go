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
// test owners (people with wallets of their own), MultiSendCallOnly and a TimelockController
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
	// module is the key EnableModule enabled as a module of the Safe
	module *chain.Key
}

// DeployGovernedChain deploys the governance contracts on a dev chain with deployer's key
// (through a nonce store of its own in dir: the worker must not be sending meanwhile) and
// funds n owners from the dev account.
func DeployGovernedChain(ctx context.Context, rpc string, chainID uint64, deployer *chain.Key, dir string, n, threshold int, delay time.Duration, executor common.Address) (*GovernedChain, error) {
	g := &GovernedChain{RPC: rpc, ChainID: chainID, Threshold: threshold, Delay: delay, nonces: &chain.NonceStore{Dir: dir}, Approved: map[common.Hash]time.Time{}, privs: map[common.Address]*ecdsa.PrivateKey{}}
	var owners []common.Address
	for i := range n {
		priv, err := crypto.GenerateKey()
		if err != nil {
			return nil, err
		}
		k := chain.NewKey(fmt.Sprintf("owner%d", i+1), priv)
		g.privs[k.Address] = priv
		if _, err := FundFromDev(ctx, rpc, k.Address, big.NewInt(params.Ether)); err != nil {
			return nil, err
		}
		g.Owners = append(g.Owners, k)
		owners = append(owners, k.Address)
	}
	slices.SortFunc(g.Owners, func(a, b *chain.Key) int { return a.Address.Cmp(b.Address) })
	c, err := chain.Dial(ctx, rpc, chainID)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	g.Gov, err = safe.DeployGovernance(ctx, c, deployer.Address, func(ctx context.Context, opKey string, to *common.Address, data []byte) (*chain.SignedTx, error) {
		return g.Send(ctx, deployer, opKey, to, data)
	}, "devstack/governance", owners, uint64(threshold), uint64(delay.Seconds()), executor)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Send signs key's transaction under the chain's test nonce store, broadcasts it and waits
// for it to be mined (one confirmation).
func (g *GovernedChain) Send(ctx context.Context, key *chain.Key, opKey string, to *common.Address, data []byte) (*chain.SignedTx, error) {
	c, err := chain.Dial(ctx, g.RPC, g.ChainID)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st, err := chain.SignTx(ctx, c, key, g.nonces, chain.TxRequest{OpKey: opKey, To: to, Data: data})
	if err != nil {
		return nil, err
	}
	if _, err := chain.Broadcast(ctx, c, st.Raw); err != nil {
		return nil, err
	}
	if _, err := chain.WaitConfirmed(ctx, c, st.Raw, chain.WaitOptions{Confirmations: 1, PollInterval: 100 * time.Millisecond}); err != nil {
		return nil, err
	}
	return st, nil
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

var transferOwnershipABI = func() abi.ABI {
	a, err := abi.JSON(strings.NewReader(`[{"type":"function","name":"transferOwnership","stateMutability":"nonpayable","inputs":[{"name":"newOwner","type":"address"}],"outputs":[]}]`))
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

// ApproveHash has the first n owners approve hash on chain, each from their own key, and
// records when the last approval was mined.
func (g *GovernedChain) ApproveHash(ctx context.Context, hash common.Hash, n int) error {
	data, err := safe.ApproveHashData(hash)
	if err != nil {
		return err
	}
	for _, o := range g.Owners[:n] {
		if _, err := g.Send(ctx, o, "approve/"+hash.Hex(), &g.Gov.Safe, data); err != nil {
			return fmt.Errorf("approveHash by %s: %w", o.Address.Hex(), err)
		}
	}
	g.mu.Lock()
	g.Approved[hash] = time.Now()
	g.mu.Unlock()
	return nil
}

// ApprovedAt is when the threshold's last approveHash of hash was mined (zero: not approved).
func (g *GovernedChain) ApprovedAt(hash common.Hash) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.Approved[hash]
}

// Approvers is a round of the Safe's owners for FollowWith: every governed upgrade of this
// chain awaiting approvals, and every cancellation or rejection of one after an abort, is
// approved by the threshold of owners, once.
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
			case u.Phase == release.GovRejecting && u.RejectionSafeTxHash != "":
				hash, what = u.RejectionSafeTxHash, "the rejection, safeTxHash"
			case u.Phase != release.GovProposed:
				continue
			}
			h := common.HexToHash(hash)
			if !g.ApprovedAt(h).IsZero() {
				continue
			}
			if err := g.ApproveHash(ctx, h, g.Threshold); err != nil {
				return did, err
			}
			did = append(did, fmt.Sprintf("%d Safe owners approved %s %s (%s)", g.Threshold, what, hash, u.Contract))
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
	if err := g.ApproveHash(ctx, h, g.Threshold-1); err != nil {
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

// EnableModule enables a fresh key as a module of the Safe (a Safe transaction the owners
// approve and one of them executes: it uses the Safe's nonce, so enable it before a release
// proposes). A module, as a recovery or roles module does, changes the owners or the threshold
// without the owners' signatures and without a Safe nonce (ChangeThreshold).
func (g *GovernedChain) EnableModule(ctx context.Context) error {
	priv, err := crypto.GenerateKey()
	if err != nil {
		return err
	}
	module := chain.NewKey("module", priv)
	if _, err := FundFromDev(ctx, g.RPC, module.Address, big.NewInt(params.Ether)); err != nil {
		return err
	}
	n, err := g.SafeNonce(ctx)
	if err != nil {
		return err
	}
	data, err := safe.EnableModuleData(module.Address)
	if err != nil {
		return err
	}
	tx, h, err := safe.SelfTx(g.Gov.Safe, g.ChainID, data, n)
	if err != nil {
		return err
	}
	if err := g.ApproveHash(ctx, h, g.Threshold); err != nil {
		return err
	}
	c, err := chain.Dial(ctx, g.RPC, g.ChainID)
	if err != nil {
		return err
	}
	defer c.Close()
	req, err := safe.ExecSafeTxRequest(ctx, c, tx, h, nil, "enable-module")
	if err != nil {
		return fmt.Errorf("enable module: %w", err)
	}
	if _, err := g.Send(ctx, g.Owners[0], "owner-exec/"+h.Hex(), req.To, req.Data); err != nil {
		return fmt.Errorf("enable module: %w", err)
	}
	g.module = module
	return nil
}

// ChangeThreshold changes the Safe's threshold through the module (EnableModule first): no
// Safe nonce is used, so owners' approvals of a pending proposal can stop adding up while its
// nonce stays free. Approvers and OwnersExecute use the new threshold.
func (g *GovernedChain) ChangeThreshold(ctx context.Context, threshold int) error {
	if g.module == nil {
		return fmt.Errorf("change threshold: no module enabled on Safe %s", g.Gov.Safe.Hex())
	}
	data, err := safe.ChangeThresholdData(uint64(threshold))
	if err != nil {
		return err
	}
	call, err := safe.ModuleCallData(g.Gov.Safe, data)
	if err != nil {
		return err
	}
	if _, err := g.Send(ctx, g.module, fmt.Sprintf("module/threshold/%d/%d", threshold, time.Now().UnixNano()), &g.Gov.Safe, call); err != nil {
		return fmt.Errorf("module: threshold %d: %w", threshold, err)
	}
	g.Threshold = threshold
	return nil
}
