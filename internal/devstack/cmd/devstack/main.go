// Command devstack runs the embedded stack: `up` starts the Temporal dev server (Web UI on
// 127.0.0.1:8233, persisted to .data/temporal.db), two geth --dev chains (testnet: chain id
// 31337 on 127.0.0.1:8545, mainnet: 31338 on 127.0.0.1:8546, data in .data/chains/; the
// mainnet governed by a 2-of-3 Safe of demo approvers and a 30 s timelock), the demo service
// and the worker (with the deployer key of .data/deployer.key, as a keystore) in the background;
// `up -cluster` runs the production-shaped cluster in the dev server's place (PostgreSQL on
// 127.0.0.1:5433 with its data in .data/cluster/, the Temporal server's frontend on
// 127.0.0.1:7233) and two workers; `demo` drives a sample release to the end; `down` stops
// everything.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/chain/safe"
	"github.com/shipgate/shipgate/internal/checks"
	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/devstack/people"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/policies"
	"github.com/shipgate/shipgate/internal/release"
)

const (
	temporalAddr = "127.0.0.1:7233"
	uiBase       = "http://127.0.0.1:8233"
	demosvcAddr  = "127.0.0.1:8090"
	workerAddr   = "127.0.0.1:9464"
	worker2Addr  = "127.0.0.1:9465" // the cluster's second worker
	promAddr     = "127.0.0.1:9090"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	dataDir := fs.String("data", ".data", "state directory: logs, pid files, the Temporal database")
	binDir := fs.String("bin", ".bin", "where the stack's binaries are built")
	manifest := fs.String("f", "deployments/examples/demo/release.yaml", "demo: the release manifest")
	policy := fs.String("policy", "demo", "demo: the name of the worker policy (deployments/policies/NAME.yaml)")
	slackURLFile := fs.String("url-file", "", "slack: where the Slack stand-in writes its Web API URL")
	cluster := fs.Bool("cluster", false, "up: the Temporal server on PostgreSQL and two workers instead of the dev server and one")
	if len(args) == 0 {
		return errors.New("usage: devstack up|down|demo [flags]")
	}
	cmd := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	st := devstack.Stack{Dir: *dataDir}
	keys := stackKeys(st)
	switch cmd {
	case "up":
		return up(ctx, st, *binDir, *cluster)
	case "down":
		names := []string{"loadgen", "prometheus", "worker", "worker-2", "slack"}
		for _, c := range devstack.DevChains {
			names = append(names, c.Process())
		}
		// the server before its database
		for _, n := range append(names, "demosvc", "temporal", "temporal-server", "postgres") {
			if err := st.Stop(n, 15*time.Second); err != nil {
				return err
			}
		}
		fmt.Println("stack stopped")
		return nil
	case "slack":
		return devstack.ServeSlack(ctx, *slackURLFile)
	case "demo", "demo-rollback":
		contract := "Counter"
		if cmd == "demo-rollback" {
			contract = "CounterRollbackDemo"
		}
		gov, err := openGovernance(ctx, st)
		if err != nil {
			return fmt.Errorf("mainnet governance: %w", err)
		}
		if err := baseline(ctx, st, keys, *manifest, *policy, contract, gov); err != nil {
			return err
		}
		if err := handOver(ctx, st, gov, contract); err != nil {
			return err
		}
		return runDemo(ctx, st, keys, *manifest, *policy, cmd == "demo-rollback", renamed(contract), gov)
	}
	return fmt.Errorf("unknown command %q (want up, down or demo)", cmd)
}

func up(ctx context.Context, st devstack.Stack, binDir string, cluster bool) error {
	if err := os.MkdirAll(st.Dir, 0o755); err != nil {
		return err
	}
	if cluster {
		if err := upCluster(ctx, st); err != nil {
			return err
		}
	} else {
		tbin, err := devstack.TemporalCLI()
		if err != nil {
			return err
		}
		db, _ := filepath.Abs(filepath.Join(st.Dir, "temporal.db"))
		if _, err := st.Spawn("temporal", tbin, append([]string{"server", "start-dev", "--ip", "127.0.0.1", "--port", "7233",
			"--ui-port", "8233", "--db-filename", db, "--log-level", "warn", "--namespace", "default"}, devstack.ServerDynamicArgs()...), nil); err != nil {
			return err
		}
		if err := devstack.WaitTemporal(ctx, temporalAddr, 2*time.Minute); err != nil {
			return fmt.Errorf("%w (log: %s)", err, st.LogFile("temporal"))
		}
		fmt.Printf("temporal dev server on %s, Web UI %s\n", temporalAddr, uiBase)
	}
	deployer, deployerEnv, err := startChains(ctx, st)
	if err != nil {
		return err
	}
	gov, err := governMainnet(ctx, st, deployer)
	if err != nil {
		return fmt.Errorf("mainnet governance: %w", err)
	}
	state, _ := filepath.Abs(filepath.Join(st.Dir, "demosvc.json"))
	if _, err := st.Spawn("demosvc", filepath.Join(binDir, "demosvc"), []string{"serve", "--listen", demosvcAddr,
		"--state", state, "--service", "demo", "--initial-version", "1.3.0", "--environment", "production"}, nil); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+demosvcAddr+"/healthz", 30*time.Second); err != nil {
		return fmt.Errorf("demo service: %w (log: %s)", err, st.LogFile("demosvc"))
	}
	fmt.Printf("demo service on http://%s (traffic webhook /v1/traffic, metrics /metrics)\n", demosvcAddr)
	// steady traffic through the router, bounded: it stops by itself after an hour
	if _, err := st.Spawn("loadgen", filepath.Join(binDir, "demosvc"), []string{"load", "--target", "http://" + demosvcAddr + "/",
		"--rps", "50", "--duration", "1h"}, nil); err != nil {
		return err
	}
	if err := startPrometheus(ctx, st); err != nil {
		return err
	}
	slackEnv, err := upSlack(ctx, st, binDir)
	if err != nil {
		return err
	}
	// The worker runs the repository's policies (deployments/policies/), with the demo people's
	// keys enrolled, and allows the demo's dev profile.
	keys := stackKeys(st)
	if err := keys.RenderPolicies(policySource, policyDir(st)); err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	governed, err := people.GovernPolicies(policyDir(st), gov.ChainID, gov.Policy())
	if err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	fmt.Printf("policies from %s, the demo people's keys in %s; the mainnet's governance (Safe %s, timelock %s) in %v\n",
		policySource, keys.Dir, gov.Gov.Safe.Hex(), gov.Gov.Timelock.Hex(), governed)
	workers := map[string]string{"worker": workerAddr}
	if cluster {
		workers["worker-2"] = worker2Addr
	}
	for _, name := range []string{"worker", "worker-2"} {
		addr, ok := workers[name]
		if !ok {
			continue
		}
		if _, err := st.Spawn(name, filepath.Join(binDir, "worker"), nil,
			append(append([]string{"TEMPORAL_ADDRESS=" + temporalAddr, "SHIPGATE_HTTP_ADDR=" + addr, "SHIPGATE_PROMETHEUS_URL=http://" + promAddr, "SHIPGATE_CHAIN_DATA=" + chainData(st),
				evstore.EnvStore + "=" + evidenceStore(st), policies.EnvDir + "=" + policyDir(st), policies.EnvAllowDev + "=true"}, deployerEnv...), slackEnv...)); err != nil {
			return err
		}
		if err := waitHTTP(ctx, "http://"+addr+"/readyz", time.Minute); err != nil {
			return fmt.Errorf("%s: %w (log: %s)", name, err, st.LogFile(name))
		}
		fmt.Printf("%s ready (metrics http://%s/metrics); logs in %s\n", name, addr, filepath.Join(st.Dir, "logs"))
	}
	return nil
}

// upCluster starts the production-shaped cluster in the dev server's place: PostgreSQL
// (initialized, with the schemas set up by temporal-sql-tool, at the first start) and the
// Temporal server on it, its frontend where the dev server's is.
func upCluster(ctx context.Context, st devstack.Stack) error {
	server, sqlTool, err := devstack.ServerBinaries()
	if err != nil {
		return err
	}
	dir, _ := filepath.Abs(filepath.Join(st.Dir, "cluster"))
	ports := devstack.FixedClusterPorts
	pg := &devstack.Postgres{Dir: filepath.Join(dir, "postgres"), Port: ports.Postgres}
	fresh, err := devstack.InitPostgres(pg.Dir)
	if err != nil {
		return err
	}
	cmd, err := pg.PostgresCommand()
	if err != nil {
		return err
	}
	if _, err := st.SpawnCmd("postgres", cmd); err != nil {
		return err
	}
	if err := devstack.WaitPostgres(ctx, ports.Postgres, time.Minute); err != nil {
		return fmt.Errorf("%w (log: %s)", err, st.LogFile("postgres"))
	}
	if fresh {
		if err := devstack.SetupClusterSchema(ctx, sqlTool, ports.Postgres); err != nil {
			return err
		}
	}
	fmt.Printf("postgresql on 127.0.0.1:%d (data in %s), schemas of temporal and temporal_visibility set up\n", ports.Postgres, pg.Dir)
	args, err := devstack.WriteClusterConfig(dir, ports)
	if err != nil {
		return err
	}
	if _, err := st.Spawn("temporal-server", server, args, devstack.ClusterServerEnv()); err != nil {
		return err
	}
	if err := devstack.WaitTemporal(ctx, temporalAddr, 3*time.Minute); err != nil {
		return fmt.Errorf("%w (log: %s)", err, st.LogFile("temporal-server"))
	}
	if err := devstack.PrepareNamespace(ctx, temporalAddr, devstack.ClusterNamespace); err != nil {
		return fmt.Errorf("%w (log: %s)", err, st.LogFile("temporal-server"))
	}
	fmt.Printf("temporal server (frontend, history, matching, worker; %d history shards) on %s, namespace %s; config in %s\n",
		devstack.ClusterHistoryShards, temporalAddr, devstack.ClusterNamespace, filepath.Join(dir, "config"))
	return nil
}

// policySource is the repository's policy directory: the embedded stack's worker runs these
// policies; a person trying shipgate out edits them (and lists their own key under sshKeys).
const policySource = "deployments/policies"

// policyDir is the worker's copy of policySource with the demo people's keys enrolled.
func policyDir(st devstack.Stack) string {
	d, _ := filepath.Abs(filepath.Join(st.Dir, "policies"))
	return d
}

// stackKeys are the demo people's keys and the Slack-bridge key, made at the first `up`.
func stackKeys(st devstack.Stack) *people.Keyring {
	d, _ := filepath.Abs(filepath.Join(st.Dir, "keys"))
	return &people.Keyring{Dir: d}
}

// deployerFunds is what the deployer holds on each dev chain: enough for thousands of demo
// deployments at dev gas prices.
var deployerFunds = new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))

// chainData is the worker's contract nonce store and deployment records (SHIPGATE_CHAIN_DATA).
func chainData(st devstack.Stack) string {
	d, _ := filepath.Abs(filepath.Join(st.Dir, "chain"))
	return d
}

// evidenceStore is the stack's evidence store, shared by the worker and the demo's starter:
// a directory beside the stack's other data.
func evidenceStore(st devstack.Stack) string {
	d, _ := filepath.Abs(filepath.Join(st.Dir, "evidence"))
	return "dir:" + d
}

// deployed reports whether the deployment records know the contract on every dev chain.
func deployed(st devstack.Stack, contract string) bool {
	rs := chain.RecordStore{Dir: filepath.Join(chainData(st), "records")}
	for _, c := range devstack.DevChains {
		if _, err := rs.Latest(c.ChainID, contract); err != nil {
			return false
		}
	}
	return true
}

// renamed gives the release's contracts another record name: demo:rollback keeps its own
// counter, which every run leaves on v1 again, so each run shows the proxy going back to v1.
func renamed(name string) func(*release.Input) {
	return func(in *release.Input) {
		for i := range in.Manifest.Contracts {
			in.Manifest.Contracts[i].Name = name
		}
	}
}

// baseline runs, once per stack and counter, the release that puts v1 of the demo's counter
// and its proxy on both chains (release-v1.yaml next to the manifest): the demo release
// upgrades it to v2, and a rollback returns it to v1. Its initialize(owner, …) gets the
// stack's generated deployer.
func baseline(ctx context.Context, st devstack.Stack, keys *people.Keyring, manifest, policy, contract string, gov *devstack.GovernedChain) error {
	demo, _, err := release.Load(manifest, filepath.Join(policyDir(st), policy+".yaml"), checks.Validate)
	if err != nil {
		return err
	}
	// The demo release goes from its previousVersion: production must serve that version
	// (the service's lane refuses a release built on another). After an earlier demo it
	// serves the demo's version, so a release of the baseline brings it back first.
	// an earlier demo's release ends first: until then it holds the lane
	if err := endRunning(ctx, devstack.Release{In: demo, Keys: keys}, demo.Manifest.ID()); err != nil {
		return err
	}
	live, err := servedInProduction(ctx, demo.Manifest.Service)
	if err != nil {
		return err
	}
	if deployed(st, contract) && (live == "" || live == demo.Manifest.PreviousVersion) {
		return nil
	}
	key, _, err := devstack.DeployerKey(filepath.Join(st.Dir, "deployer.key"))
	if err != nil {
		return err
	}
	fmt.Printf("production must serve %s first (it serves %q; %s on the chains: %v): release demo %s (with v1 of the contract and its proxy when they are not on the chains)\n",
		demo.Manifest.PreviousVersion, live, contract, deployed(st, contract), demo.Manifest.PreviousVersion)
	onChain := deployed(st, contract)
	return runDemo(ctx, st, keys, filepath.Join(filepath.Dir(manifest), "release-v1.yaml"), policy, false, func(in *release.Input) {
		renamed(contract)(in)
		if live != "" {
			in.Manifest.PreviousVersion = live // a release goes from what production serves
		}
		if onChain {
			// the service goes back to the baseline; the contracts stay where the demo left
			// them (a proxy never goes back to an implementation whose storage it outgrew)
			in.Manifest.Contracts, in.Manifest.Changes.Contracts = nil, false
		}
		for i := range in.Manifest.Contracts {
			if p := in.Manifest.Contracts[i].Proxy; p != nil && len(p.InitArgs) > 0 {
				p.InitArgs[0] = key.Address.Hex()
			}
		}
	}, gov)
}

// startChains starts the dev profile's testnet and mainnet (geth --dev, data in
// .data/chains/), makes sure the stack's deployer key exists (.data/deployer.key, created at
// first start) and is funded on both, and returns it with the worker's variables for it: a
// go-ethereum keystore file (.data/deployer.keystore.json, deployerKeystore), since the
// governed mainnet refuses a raw hex key even on a dev worker.
func startChains(ctx context.Context, st devstack.Stack) (*chain.Key, []string, error) {
	bin, err := devstack.GethBinary()
	if err != nil {
		return nil, nil, err
	}
	keyFile := filepath.Join(st.Dir, "deployer.key")
	key, _, err := devstack.DeployerKey(keyFile)
	if err != nil {
		return nil, nil, err
	}
	env, err := deployerKeystore(st, keyFile)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range devstack.DevChains {
		if err := st.SpawnChain(ctx, bin, c); err != nil {
			return nil, nil, err
		}
		if _, err := devstack.FundFromDev(ctx, c.RPC(), key.Address, deployerFunds); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		fmt.Printf("%s: geth --dev on %s, chain id %d, deployer %s\n", c.Name, c.RPC(), c.ChainID, key.Address.Hex())
	}
	return key, env, nil
}

// deployerKeystore returns the worker's variables for the deployer's keystore file, made at
// the first `up` and kept with them (.data/deployer.keystore.env, 0600, beside the key it
// encrypts): `go tool task demo` runs `up` again while the worker runs, and a keystore made
// anew would no longer open with the passphrase that worker was started with.
func deployerKeystore(st devstack.Stack, keyFile string) ([]string, error) {
	dir, err := filepath.Abs(st.Dir)
	if err != nil {
		return nil, err
	}
	envFile := filepath.Join(dir, "deployer.keystore.env")
	if data, err := os.ReadFile(envFile); err == nil {
		env := strings.Split(strings.TrimSpace(string(data)), "\n")
		if file, ok := strings.CutPrefix(env[0], chain.EnvKeystoreFile+devstack.DeployerKeyName+"="); ok && len(env) == 2 {
			if _, err := os.Stat(file); err == nil {
				return env, nil
			}
		}
	}
	env, err := devstack.KeystoreEnv(devstack.DeployerKeyName, keyFile, dir)
	if err != nil {
		return nil, err
	}
	return env, os.WriteFile(envFile, []byte(strings.Join(env, "\n")+"\n"), 0o600)
}

// The stack's mainnet is governed the way a serious team's is (issue 13): a 2-of-3 Safe of
// demo people and a TimelockController of short delay (the dev profile's).
// demoSafeOwners are the demo approvers who own the Safe, each with a wallet of their own
// (.data/keys/<id>.wallet): approvers who are not the demo release's author (alice).
var demoSafeOwners = []string{"bob", "carol", "erin"}

const (
	demoSafeThreshold = 2
	// demoTimelockDelay is short, so the demo waits it out for real in a few minutes; a
	// production policy needs a day at least.
	demoTimelockDelay = 30 * time.Second
	governedChain     = "mainnet"
)

// governanceFile keeps the stack's mainnet Safe, timelock and MultiSend addresses.
func governanceFile(st devstack.Stack) string { return filepath.Join(st.Dir, "governance.json") }

// nonceDir is the worker's nonce store (SHIPGATE_CHAIN_DATA/nonces): the stack sends its
// deployer's transactions (governance, hand-over) through it too, so no nonce is used twice.
func nonceDir(st devstack.Stack) string { return filepath.Join(chainData(st), "nonces") }

func mainnetChain() devstack.DevChain {
	for _, c := range devstack.DevChains {
		if c.Name == governedChain {
			return c
		}
	}
	panic("devstack: no " + governedChain + " among DevChains")
}

// demoOwners are the Safe owners' wallets.
func demoOwners(st devstack.Stack) ([]devstack.Wallet, error) {
	keys := stackKeys(st)
	var ws []devstack.Wallet
	for _, id := range demoSafeOwners {
		k, err := keys.Wallet(id)
		if err != nil {
			return nil, err
		}
		ws = append(ws, devstack.Wallet{Name: id, Key: k})
	}
	return ws, nil
}

// openGovernance is the stack's mainnet governance as governanceFile names it, checked on chain.
func openGovernance(ctx context.Context, st devstack.Stack) (*devstack.GovernedChain, error) {
	data, err := os.ReadFile(governanceFile(st))
	if err != nil {
		return nil, fmt.Errorf("%w (the stack's `up` deploys the mainnet's governance and records it there)", err)
	}
	var gov safe.Governance
	if err := json.Unmarshal(data, &gov); err != nil {
		return nil, fmt.Errorf("%s: %w", governanceFile(st), err)
	}
	owners, err := demoOwners(st)
	if err != nil {
		return nil, err
	}
	c := mainnetChain()
	return devstack.OpenGovernedChain(ctx, c.RPC(), c.ChainID, nonceDir(st), gov, owners)
}

// governMainnet deploys the mainnet's governance at the stack's first `up` (and again if the
// chain lost it) with the deployer's key, the worker's, which is also the timelock's executor;
// a later `up` finds it on chain.
func governMainnet(ctx context.Context, st devstack.Stack, deployer *chain.Key) (*devstack.GovernedChain, error) {
	g, err := openGovernance(ctx, st)
	if err == nil {
		fmt.Printf("%s governed by Safe %s (%d of %v) and timelock %s (delay %s)\n", governedChain, g.Gov.Safe.Hex(), g.Threshold, demoSafeOwners, g.Gov.Timelock.Hex(), g.Delay)
		return g, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		fmt.Printf("the recorded governance does not hold (%v): deploying it again\n", err)
	}
	owners, err := demoOwners(st)
	if err != nil {
		return nil, err
	}
	c := mainnetChain()
	g, err = devstack.DeployGovernedChain(ctx, c.RPC(), c.ChainID, deployer, nonceDir(st), owners, demoSafeThreshold, demoTimelockDelay, deployer.Address)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(g.Gov, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(governanceFile(st), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	fmt.Printf("%s governed: Safe v1.5.0 %s (%d of %v), MultiSendCallOnly %s, TimelockController %s (delay %s, executor the deployer)\n",
		governedChain, g.Gov.Safe.Hex(), g.Threshold, demoSafeOwners, g.Gov.MultiSend.Hex(), g.Gov.Timelock.Hex(), g.Delay)
	return g, nil
}

// handOver gives the timelock the mainnet proxy of contract once a release deployed it (the
// baseline's first deploy): from then on only the Safe's scheduled operations upgrade it.
func handOver(ctx context.Context, st devstack.Stack, g *devstack.GovernedChain, contract string) error {
	rs := chain.RecordStore{Dir: filepath.Join(chainData(st), "records")}
	h, err := rs.History(g.ChainID, contract)
	if err != nil {
		return err
	}
	var proxy *common.Address
	for _, r := range h {
		if r.Kind == chain.KindProxy {
			proxy = &r.Address
		}
	}
	if proxy == nil {
		return fmt.Errorf("no proxy of %s in the deployment records of chain %d", contract, g.ChainID)
	}
	key, _, err := devstack.DeployerKey(filepath.Join(st.Dir, "deployer.key"))
	if err != nil {
		return err
	}
	sent, err := g.HandedOver(ctx, key, *proxy)
	if err != nil {
		return err
	}
	if sent {
		fmt.Printf("%s proxy %s of %s handed to the timelock %s (transferOwnership from the deployer)\n", governedChain, proxy.Hex(), contract, g.Gov.Timelock.Hex())
	}
	return nil
}

// startPrometheus runs Debian's prometheus with deployments/prometheus/ (scraping the demo
// service and the worker, with the SLO rules) and waits until it has the demo's series, so the
// observability probes of the first demo release find them.
func startPrometheus(ctx context.Context, st devstack.Stack) error {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return errors.New("prometheus not found: install Debian's package (`go tool task tools` does: apt-get install prometheus)")
	}
	cfg, _ := filepath.Abs("deployments/prometheus/prometheus.yml")
	data, _ := filepath.Abs(filepath.Join(st.Dir, "prometheus"))
	if _, err := st.Spawn("prometheus", bin, []string{"--config.file=" + cfg, "--storage.tsdb.path=" + data,
		"--web.listen-address=" + promAddr, "--storage.tsdb.retention.time=2d"}, nil); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+promAddr+"/-/ready", time.Minute); err != nil {
		return fmt.Errorf("prometheus: %w (log: %s)", err, st.LogFile("prometheus"))
	}
	query := "http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(`http_requests_total{service="demo"}`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(query)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), `"service":"demo"`) {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus has no demo series after 30 s (logs: %s, %s)", st.LogFile("prometheus"), st.LogFile("loadgen"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Printf("prometheus on http://%s scraping the demo service under load (SLO rules loaded)\n", promAddr)
	return nil
}

func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %d", url, resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s: %v", url, timeout, last)
}

// demo starts the sample release and follows it to the end with the demo approvers.
// The Safe's owners (gov) approve a governed upgrade's proposal on chain, each from their own
// wallet, and once the release ends the demo prints what the chain says about it.
func runDemo(ctx context.Context, stack devstack.Stack, keys *people.Keyring, manifest, policy string, fault bool, edit func(*release.Input), gov *devstack.GovernedChain) error {
	in, pol, err := release.Load(manifest, filepath.Join(policyDir(stack), policy+".yaml"), checks.Validate)
	if err != nil {
		return err
	}
	if edit != nil {
		edit(&in)
	}
	if err := chain.CheckContracts(manifest, in.Manifest.Contracts); err != nil {
		return err
	}
	store, err := evstore.Open(ctx, evidenceStore(stack))
	if err != nil {
		return err
	}
	if err := evstore.Upload(ctx, store, manifest, &in.Manifest, nil); err != nil {
		return err
	}
	r := devstack.Release{In: in, Policy: pol, Keys: keys}
	c, err := client.DialContext(ctx, client.Options{HostPort: temporalAddr})
	if err != nil {
		return err
	}
	defer c.Close()
	id := in.Manifest.ID()
	// A demo release left running by an earlier, interrupted run is aborted by Ada, a release
	// manager, and takes its way back (a terminated one would hold its service's production
	// lane until restored); then she starts this one with her key.
	if err := endRunning(ctx, r, id); err != nil {
		return err
	}
	if err := r.Start(ctx, c, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
		return err
	}
	link := control.UILink(uiBase, "default", id)
	fmt.Printf("started %s\n  %s\n", id, link)
	start := time.Now()
	measured := make(chan time.Duration, 1)
	if fault {
		go func() {
			d, err := devstack.BreakCanary(ctx, c, id, "http://"+demosvcAddr, os.Stdout)
			if err != nil {
				fmt.Fprintln(os.Stderr, "demo-rollback:", err)
			}
			measured <- d
		}()
	}
	out := &devstack.LockedWriter{W: os.Stdout}
	approvers, stopApprovers, err := slackApprovers(stack, r, out)
	if err != nil {
		return err
	}
	defer stopApprovers()
	owners := gov.Approvers(governedChain)
	st, err := devstack.FollowWith(ctx, c, id, out, func(ctx context.Context, st release.Status) ([]string, error) {
		did, err := approvers.Round(ctx, st)
		if err != nil {
			return did, err
		}
		more, err := owners(ctx, st)
		return append(did, more...), err
	})
	if err != nil {
		return err
	}
	for _, u := range st.Governance {
		oc, err := gov.Read(ctx, u.Proposal)
		if err != nil {
			return fmt.Errorf("governance of %s on %s: %w", u.Contract, u.Chain, err)
		}
		fmt.Printf("\non %s after the release (governance %s: %s):\n", u.Chain, u.Contract, u.Phase)
		for _, l := range oc.Lines() {
			fmt.Printf("  %s\n", l)
		}
	}
	if fault {
		d := <-measured
		fmt.Printf("\nfault injected → canary traffic 0 %%: %s (analysis interval %s)\n", d.Round(time.Millisecond), pol.AnalysisInterval())
		if st.State != release.StateRolledBack {
			return fmt.Errorf("release ended %s, want rolled_back: %s", st.State, st.Reason)
		}
		fmt.Printf("%s ended %s: %s\n", id, st.State, st.Reason)
		return nil
	}
	fmt.Printf("\n%s ended %s in %s after %s\n  %s\n", id, st.State, st.Stage, time.Since(start).Round(time.Second), link)
	fmt.Println("the stack stays up for inspection: `go tool task down` stops it")
	if st.State != release.StateSucceeded {
		return fmt.Errorf("release ended %s: %s", st.State, st.Reason)
	}
	return nil
}

// upSlack starts the Slack stand-in; the worker gets its URL and the stack's signing secret.
func upSlack(ctx context.Context, st devstack.Stack, binDir string) ([]string, error) {
	cfg, err := st.StartSlack(ctx, filepath.Join(binDir, "devstack"))
	if err != nil {
		return nil, err
	}
	bridge, err := stackKeys(st).KeyFile(people.BridgeID)
	if err != nil {
		return nil, err
	}
	fmt.Printf("slack stand-in (slacktest) on %s, channel %s\n", cfg.APIURL, cfg.Channel)
	return cfg.WorkerEnv(filepath.Join(policyDir(st), "demo.yaml"), bridge, uiBase), nil
}

// slackApprovers are the demo's approvers, clicking in the stand-in's channel.
func slackApprovers(st devstack.Stack, r devstack.Release, out *devstack.LockedWriter) (*devstack.SlackApprovers, func(), error) {
	cfg, err := st.Slack()
	if err != nil {
		return nil, nil, err
	}
	return devstack.NewSlackApprovers(cfg, "http://"+workerAddr+"/slack/interactions", r, out)
}

// servedInProduction is the version the service's production lane says production serves ("" before
// the service's first release reached its canary).
func servedInProduction(ctx context.Context, service string) (string, error) {
	c, err := client.DialContext(ctx, client.Options{HostPort: temporalAddr})
	if err != nil {
		return "", err
	}
	defer c.Close()
	ls, _, err := control.Lane(ctx, c, service)
	return ls.Live, err
}

// endRunning waits until no release of id runs: one whose status is final is only settling,
// any other is aborted by rm-ada (signed) and takes its way back.
func endRunning(ctx context.Context, r devstack.Release, id string) error {
	c, err := client.DialContext(ctx, client.Options{HostPort: temporalAddr})
	if err != nil {
		return err
	}
	defer c.Close()
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return nil
	}
	if st, err := control.Status(ctx, c, id); err == nil && !st.State.Final() {
		fmt.Printf("%s is still running from an earlier demo: aborting it\n", id)
		e, err := r.Send(ctx, c, release.SignalAbort, release.Command{Actor: "rm-ada", Channel: release.ChannelCLI, Reason: "a new demo run replaces it"})
		if err != nil {
			return err
		}
		if !e.Accepted {
			return fmt.Errorf("%s: abort %s", id, e.Reason)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	err = c.GetWorkflow(wctx, id, d.GetWorkflowExecutionInfo().GetExecution().GetRunId()).Get(wctx, nil)
	if err != nil && wctx.Err() != nil {
		return fmt.Errorf("%s did not end: %w", id, err)
	}
	return nil
}
