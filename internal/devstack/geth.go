package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/shipgate/shipgate/internal/chain"
)

// GethDevAccount is the account `geth --dev` unlocks: with an empty keystore it imports
// go-ethereum's fixed developer key (cmd/utils.DeveloperKey). The genesis InitChainDir writes
// pre-funds it, as geth's own dev genesis does; FundFromDev pays from it.
var GethDevAccount = common.HexToAddress("0x71562b71999873DB5b286dF957af199Ec94617F7")

// DeployerKeyName is the key name the dev stack's worker loads its deployer by:
// chain.LoadKey("DEPLOYER") reads SHIPGATE_KEY_DEPLOYER.
const DeployerKeyName = "DEPLOYER"

// GethBinary finds geth: $SHIPGATE_GETH, else the repository's git-ignored .bin/geth, which
// `go tool task tools` builds from go-ethereum's cmd/geth at the version in go.mod. A geth on
// PATH is not used: its version would not be the one internal/chain is built and tested with.
func GethBinary() (string, error) {
	return repoTool("SHIPGATE_GETH", "geth", "tools:geth")
}

// ChainOptions configure one local `geth --dev` chain.
type ChainOptions struct {
	Bin     string // geth binary; empty: GethBinary()
	Dir     string // data dir, kept across restarts: chain state, dev keystore, genesis.json, geth.log
	ChainID uint64 // written into the genesis at first start, checked on every start
	Port    int    // HTTP JSON-RPC on 127.0.0.1; 0 picks a free port
	Period  uint64 // seconds between blocks; 0 means 1 (confirmations then take real blocks)
}

// Chain is a running geth --dev started by StartChain.
type Chain struct {
	RPC     string // http://127.0.0.1:port
	ChainID uint64
	Dir     string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has been waited for
}

// genesisGasLimit is the block gas limit of the dev chains: room for a proxy deployment and
// its initializer in one block.
const genesisGasLimit = 30_000_000

// InitChainDir gives an empty data dir a dev genesis with chainID (`geth init`), so that
// `geth --dev --datadir dir` serves that chain id instead of dev mode's fixed 1337: dev mode
// keeps a chain it finds in the data dir if it is merged at genesis, which geth's own dev
// genesis, reused here, is. A dir that already holds a chain is left alone — re-running init
// with another chain id would rewrite the stored config under the existing blocks — and
// WaitChain's chain id check catches a dir that belongs to another chain.
func InitChainDir(ctx context.Context, bin, dir string, chainID uint64) error {
	if chainID == 0 {
		return errors.New("geth init: chain id 0")
	}
	if _, err := os.Stat(filepath.Join(dir, "geth", "chaindata")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	g := core.DeveloperGenesisBlock(genesisGasLimit, &GethDevAccount) // copies the shared config
	g.Config.ChainID = new(big.Int).SetUint64(chainID)
	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return fmt.Errorf("dev genesis: %w", err)
	}
	genesis := filepath.Join(dir, "genesis.json")
	if err := os.WriteFile(genesis, data, 0o644); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, bin, "init", "--datadir", dir, genesis).CombinedOutput()
	if err != nil {
		return fmt.Errorf("geth init --datadir %s: %w\n%s", dir, err, out)
	}
	return nil
}

// GethArgs are the flags of a dev chain: HTTP JSON-RPC on loopback only, no p2p (dev mode
// forces it off; the flags say so on the command line too), no IPC socket (data dir paths
// can exceed the socket path limit), no WebSocket. Dev mode registers no authenticated
// engine API, so geth opens no authrpc port either.
func GethArgs(o ChainOptions) []string {
	period := o.Period
	if period == 0 {
		period = 1
	}
	return []string{"--dev", "--dev.period", strconv.FormatUint(period, 10), "--datadir", o.Dir,
		"--http", "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(o.Port), "--http.api", "eth,net,web3",
		"--nodiscover", "--maxpeers", "0", "--ipcdisable", "--cache", "128", "--verbosity", "3"}
}

// StartChain initialises o.Dir on first use, starts geth --dev (output appended to
// o.Dir/geth.log) and waits until it answers with o.ChainID. It stops the process again when
// the node serves another chain id (a *chain.ChainIDError): the dir belongs to another chain.
func StartChain(ctx context.Context, o ChainOptions) (*Chain, error) {
	var err error
	if o.Bin == "" {
		if o.Bin, err = GethBinary(); err != nil {
			return nil, err
		}
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, err
	}
	if o.Port == 0 {
		if o.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if err := InitChainDir(ctx, o.Bin, o.Dir, o.ChainID); err != nil {
		return nil, err
	}
	logPath := filepath.Join(o.Dir, "geth.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(o.Bin, GethArgs(o)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.Bin, err)
	}
	c := &Chain{RPC: fmt.Sprintf("http://127.0.0.1:%d", o.Port), ChainID: o.ChainID, Dir: o.Dir, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	alive := func() bool {
		select {
		case <-c.exited:
			return false
		default:
			return true
		}
	}
	if err := WaitChain(ctx, c.RPC, o.ChainID, time.Minute, alive); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, logPath)
	}
	return c, nil
}

// WaitChain waits until the node at rpcURL answers with chainID. A node serving another chain
// id is a *chain.ChainIDError at once; alive (may be nil) says whether the process still runs,
// so a geth that exited is reported without waiting out the timeout.
func WaitChain(ctx context.Context, rpcURL string, chainID uint64, timeout time.Duration, alive func() bool) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		c, err := chain.Dial(ctx, rpcURL, chainID)
		if err == nil {
			c.Close()
			return nil
		}
		if _, ok := errors.AsType[*chain.ChainIDError](err); ok {
			return err
		}
		last = err
		if alive != nil && !alive() {
			return fmt.Errorf("geth for %s exited before answering: %v", rpcURL, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("geth at %s did not answer in %s: %v", rpcURL, timeout, last)
}

// Stop ends geth with SIGTERM, which makes it write its state to disk so a restart on the
// same dir continues the chain, and waits; SIGKILL after 30 s.
func (c *Chain) Stop() error {
	if c.cmd.Process == nil {
		return nil
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping geth (%s): %w", c.Dir, err)
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	return nil
}

// DeployerKey loads the dev stack's deployer key from path, creating a fresh secp256k1 key
// there (hex, mode 0600) on first use, so the deployment records of earlier runs stay the
// deployer's. env is the worker's variable for it (SHIPGATE_KEY_DEPLOYER=<hex>, the
// development form chain.LoadKey reads): pass it to the worker process only, never log it.
func DeployerKey(path string) (key *chain.Key, env string, err error) {
	priv, err := crypto.LoadECDSA(path)
	if errors.Is(err, os.ErrNotExist) {
		if priv, err = crypto.GenerateKey(); err != nil {
			return nil, "", err
		}
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			err = crypto.SaveECDSA(path, priv)
		}
	}
	if err != nil {
		// LoadECDSA's errors never quote the key's bytes.
		return nil, "", fmt.Errorf("deployer key %s: %w", path, err)
	}
	env = chain.EnvKeyHex + DeployerKeyName + "=" + hexutil.Encode(crypto.FromECDSA(priv))[2:]
	return chain.NewKey(DeployerKeyName, priv), env, nil
}

// FundFromDev sends amount wei from the dev account to `to` when `to` holds less than that, and
// waits until the transfer is mined. It reports whether it sent anything: a restarted stack
// whose deployer is still funded sends nothing.
func FundFromDev(ctx context.Context, rpcURL string, to common.Address, amount *big.Int) (bool, error) {
	c, err := ethclient.DialContext(ctx, rpcURL)
	if err != nil {
		return false, err
	}
	defer c.Close()
	bal, err := c.BalanceAt(ctx, to, nil)
	if err != nil {
		return false, fmt.Errorf("balance of %s at %s: %w", to.Hex(), rpcURL, err)
	}
	if bal.Cmp(amount) >= 0 {
		return false, nil
	}
	var hash common.Hash
	// eth_sendTransaction: geth signs with the dev account it unlocked at start.
	tx := map[string]any{"from": GethDevAccount, "to": to, "value": (*hexutil.Big)(amount)}
	if err := c.Client().CallContext(ctx, &hash, "eth_sendTransaction", tx); err != nil {
		return false, fmt.Errorf("fund %s from the dev account at %s: %w", to.Hex(), rpcURL, err)
	}
	for {
		r, err := c.TransactionReceipt(ctx, hash)
		switch {
		case err == nil && r.Status == types.ReceiptStatusSuccessful:
			return true, nil
		case err == nil:
			return true, fmt.Errorf("funding tx %s reverted", hash.Hex())
		case !errors.Is(err, ethereum.NotFound) && !chain.IsIndexing(err):
			return true, fmt.Errorf("funding tx %s: %w", hash.Hex(), err)
		}
		select {
		case <-ctx.Done():
			return true, fmt.Errorf("funding tx %s not mined: %w", hash.Hex(), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// DevChain is one local chain of the embedded stack, at a fixed loopback port so the demo
// policy can name its RPC URL.
type DevChain struct {
	Name    string // the dev policy's chain name and role: testnet or mainnet
	ChainID uint64
	Port    int
}

// DevChains are the embedded stack's "testnet" and "mainnet". Their chain ids differ because
// the nonce store and the deployment records are keyed by chain id.
var DevChains = []DevChain{
	{Name: "testnet", ChainID: 31337, Port: 8545},
	{Name: "mainnet", ChainID: 31338, Port: 8546},
}

// RPC is the chain's JSON-RPC URL.
func (c DevChain) RPC() string { return fmt.Sprintf("http://127.0.0.1:%d", c.Port) }

// Process is the stack process name of the chain's geth (pid file, log file).
func (c DevChain) Process() string { return "geth-" + c.Name }

// SpawnChain starts the chain's geth as a detached stack process with its data dir in
// Dir/chains/<name> (kept across `down` and `up`), unless it runs already, and waits until it
// answers with the chain's id.
func (s Stack) SpawnChain(ctx context.Context, bin string, c DevChain) error {
	dir, err := filepath.Abs(filepath.Join(s.Dir, "chains", c.Name))
	if err != nil {
		return err
	}
	if err := InitChainDir(ctx, bin, dir, c.ChainID); err != nil {
		return err
	}
	if _, err := s.Spawn(c.Process(), bin, GethArgs(ChainOptions{Dir: dir, ChainID: c.ChainID, Port: c.Port}), nil); err != nil {
		return err
	}
	alive := func() bool { _, ok := s.Running(c.Process()); return ok }
	if err := WaitChain(ctx, c.RPC(), c.ChainID, time.Minute, alive); err != nil {
		return fmt.Errorf("%s: %w (log: %s)", c.Name, err, s.LogFile(c.Process()))
	}
	return nil
}
