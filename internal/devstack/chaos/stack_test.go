package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/analysis/promtest"
	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/devstack/demosvc"
	"github.com/shipgate/shipgate/internal/devstack/people"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/policies"
)

// stack is the chaos suite's embedded stack: the Temporal dev server persisted to a file, or
// the cluster (the Temporal server on PostgreSQL), either of which can be killed and restarted
// on the same database; two geth --dev chains with a funded deployer, the demo service under
// load, a real Prometheus scraping it, and the worker binary as separate processes (one, or
// several on the cluster) that can be SIGKILLed.
type stack struct {
	t        testing.TB
	root     string
	dir      string
	temporal *devstack.Temporal
	tempOpts devstack.TemporalOptions
	cluster  *devstack.Cluster // the cluster when the stack runs on one, else nil
	c        client.Client
	testnet  *devstack.Chain
	mainnet  *devstack.Chain
	key      *chain.Key
	keyEnv   string
	demo     *demosvc.Server
	demoURL  string
	promURL  string
	prom     *promtest.Server
	keys     *people.Keyring
	polDir   string
	workers  []*exec.Cmd // the running worker of each slot
	workerAt []string    // host:port of each slot's worker's HTTP server
	workerN  int         // worker starts so far, for the log file names
}

// stackOptions say what the stack runs on: the dev server or the cluster, and how many
// workers.
type stackOptions struct {
	cluster bool
	workers int // 0: one
}

// evidence is the stack's evidence store: the suite uploads as the starter does, the worker
// reads by digest.
func (s *stack) evidence() string { return "dir:" + filepath.Join(s.dir, "evidence") }

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	if o.workers == 0 {
		o.workers = 1
	}
	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, root: root, dir: t.TempDir(), keys: &people.Keyring{Dir: t.TempDir()}, polDir: t.TempDir(),
		workers: make([]*exec.Cmd, o.workers), workerAt: make([]string, o.workers)}
	// the worker binary, built into the test's directory: .bin/ may be shared with other
	// checkouts (a worktree's link), whose tests would replace it under this one's feet
	build := exec.Command("go", "build", "-o", filepath.Join(s.dir, "worker"), "./worker")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./worker: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	if o.cluster {
		s.cluster = devstack.TestCluster(t)
		s.temporal = s.cluster.Server
	} else {
		port, err := devstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		uiPort, err := devstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s.tempOpts = devstack.TemporalOptions{Port: port, UIPort: uiPort, DBFile: filepath.Join(s.dir, "temporal.db"),
			Log: filepath.Join(s.dir, "temporal.log")}
		if s.temporal, err = devstack.StartTemporal(ctx, s.tempOpts); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.temporal.Stop() })
	}
	if s.c, err = client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quiet{}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.c.Close)

	if s.key, s.keyEnv, err = devstack.DeployerKey(filepath.Join(s.dir, "deployer.key")); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []struct {
		dst *(*devstack.Chain)
		id  uint64
	}{{&s.testnet, 31337}, {&s.mainnet, 31338}} {
		// a free port can be taken by another process before geth binds it: try again
		var started *devstack.Chain
		for try := 0; ; try++ {
			if started, err = devstack.StartChain(ctx, devstack.ChainOptions{Dir: t.TempDir(), ChainID: ch.id, Period: 1}); err == nil {
				break
			}
			if try == 2 {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { _ = started.Stop() })
		*ch.dst = started
		if _, err := devstack.FundFromDev(ctx, started.RPC, s.key.Address, new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))); err != nil {
			t.Fatal(err)
		}
	}

	if s.demo, err = demosvc.New(demosvc.Config{Service: "demo", InitialVersion: "1.3.0", Environment: "production",
		StatePath: filepath.Join(s.dir, "demosvc.json")}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	go func() { _ = s.demo.Serve(sctx, ln) }()
	t.Cleanup(stop)
	s.demoURL = "http://" + ln.Addr().String()
	for range 10 {
		if resp, err := http.Get(s.demoURL + "/"); err == nil {
			resp.Body.Close()
		}
	}
	s.prom = promtest.Start(t, nil, promtest.Options{Target: ln.Addr().String()})
	s.promURL = s.prom.URL
	// steady traffic through the router for the analysis to judge, bounded by the suite
	loadCfg := demosvc.LoadConfig{Target: s.demoURL + "/", RPS: 50, Duration: demosvc.MaxLoadDuration}
	if err := loadCfg.Validate(); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = demosvc.Load(sctx, loadCfg) }()
	t.Cleanup(s.stopWorkers)
	s.putPolicies()
	for i := range s.workers {
		if err := s.startWorker(i); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// putPolicies puts the demo's dev policy on the worker twice, pointed at this stack: "chaos"
// with short windows and a first production step of 10 % (so that the 5 % canary and the
// first step are distinct steps at the backend), and "chaos-soak" with a 30 s soak for the
// server kill.
func (s *stack) putPolicies() {
	s.t.Helper()
	pol, err := os.ReadFile(filepath.Join(s.root, "deployments/policies/demo.yaml"))
	if err != nil {
		s.t.Fatal(err)
	}
	base := string(pol)
	for _, e := range [][2]string{
		{"http://127.0.0.1:8090/v1/traffic", s.demoURL + "/v1/traffic"},
		{`"http://127.0.0.1:8545"`, `"` + s.testnet.RPC + `"`},
		{`"http://127.0.0.1:8546"`, `"` + s.mainnet.RPC + `"`},
		{"canaryWatchMin: 10s", "canaryWatchMin: 3s"},
		{"{percent: 5, bake: 5s}", "{percent: 10, bake: 5s}"},
	} {
		if !strings.Contains(base, e[0]) {
			s.t.Fatalf("demo policy has no %q to edit", e[0])
		}
		base = strings.Replace(base, e[0], e[1], 1)
	}
	base = strings.ReplaceAll(base, "bake: 5s", "bake: 2s")
	src := s.t.TempDir()
	for name, soak := range map[string]string{"chaos": "6s", "chaos-soak": "30s"} {
		p := strings.Replace(base, "testnetSoak: 20s", "testnetSoak: "+soak, 1)
		if err := os.WriteFile(filepath.Join(src, name+".yaml"), []byte(p), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := s.keys.RenderPolicies(src, s.polDir); err != nil {
		s.t.Fatal(err)
	}
}

// startWorker starts the worker binary in slot i and waits until it is ready. It may run on
// another goroutine than the test's.
func (s *stack) startWorker(i int) error {
	port, err := devstack.FreePort()
	if err != nil {
		return err
	}
	at := fmt.Sprintf("127.0.0.1:%d", port)
	s.workerAt[i] = at
	s.workerN++
	logf, err := os.Create(filepath.Join(s.dir, fmt.Sprintf("worker-%03d.log", s.workerN)))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(s.dir, "worker"))
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+s.temporal.Address, "SHIPGATE_HTTP_ADDR="+at,
		"SHIPGATE_PROMETHEUS_URL="+s.promURL, "SHIPGATE_CHAIN_DATA="+filepath.Join(s.dir, "chain"),
		policies.EnvDir+"="+s.polDir, policies.EnvAllowDev+"=true", s.keyEnv, evstore.EnvStore+"="+s.evidence())
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	s.workers[i] = cmd
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + at + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("worker not ready after a minute: %v (log %s)", err, logf.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// interrupted stops every process the suite started when the run is interrupted (Ctrl-C),
// where the test's cleanups would not run, and exits.
func (s *stack) interrupted() {
	s.stopWorkers()
	s.killServer()
	if s.cluster != nil {
		_ = s.cluster.Postgres.Stop()
	}
	for _, ch := range []*devstack.Chain{s.testnet, s.mainnet} {
		if ch != nil {
			_ = ch.Stop()
		}
	}
	if s.prom != nil {
		s.prom.Stop()
	}
	fmt.Fprintln(os.Stderr, "chaos: interrupted; stopped the stack (its files are in", s.dir+")")
	os.Exit(1)
}

// stopWorkers ends the workers at the end of the suite.
func (s *stack) stopWorkers() {
	for i, w := range s.workers {
		if w != nil && w.ProcessState == nil {
			s.killWorker(i)
		}
	}
}

// killWorker SIGKILLs the worker in slot i: a crash, no graceful stop.
func (s *stack) killWorker(i int) {
	_ = s.workers[i].Process.Signal(syscall.SIGKILL)
	_ = s.workers[i].Wait()
}

// killServer SIGKILLs the Temporal server's process group (the dev server's or the
// cluster's): no graceful stop of its database or its shards.
func (s *stack) killServer() {
	_ = syscall.Kill(-s.temporal.Cmd.Process.Pid, syscall.SIGKILL)
	_ = s.temporal.Cmd.Wait()
}

// restartServer starts the Temporal server again on the same ports and database.
func (s *stack) restartServer() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := func() (*devstack.Temporal, error) { return devstack.StartTemporal(ctx, s.tempOpts) }
	if s.cluster != nil {
		start = func() (*devstack.Temporal, error) { return s.cluster.StartServer(ctx) }
	}
	t, err := start()
	if err != nil {
		return err
	}
	s.temporal = t
	s.t.Cleanup(func() { _ = t.Stop() })
	return nil
}

// steps reads the demo service's step log over HTTP, as any outside observer would.
func (s *stack) steps() demosvc.StepLog { return s.demo.Steps() }

// production is the demo service's production split.
func (s *stack) production() demosvc.Split { return s.demo.State().Environments["production"] }

// setTrafficFault makes the demo service refuse one step.
func (s *stack) setTrafficFault(env string, percent float64) error {
	body := fmt.Sprintf(`{"environment":%q,"percent":%g,"status":422}`, env, percent)
	resp, err := http.Post(s.demoURL+"/v1/traffic/faults", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("setting the traffic fault: HTTP %d", resp.StatusCode)
	}
	return nil
}

func (s *stack) clearTrafficFaults() {
	req, _ := http.NewRequest(http.MethodDelete, s.demoURL+"/v1/traffic/faults", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// nonce is how many transactions the deployer has had mined on a chain.
func (s *stack) nonce(ch *devstack.Chain) (uint64, error) {
	cl, err := ethclient.Dial(ch.RPC)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	return cl.NonceAt(context.Background(), s.key.Address, nil)
}

// implementation reads a proxy's EIP-1967 implementation slot.
func (s *stack) implementation(ch *devstack.Chain, proxy common.Address) (common.Address, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := chain.Dial(ctx, ch.RPC, ch.ChainID)
	if err != nil {
		return common.Address{}, err
	}
	defer cl.Close()
	return chain.ReadImplementation(ctx, cl, proxy)
}

// chainOf is the stack's chain of a deployment's chain name.
func (s *stack) chainOf(name string) (*devstack.Chain, error) {
	switch name {
	case "testnet":
		return s.testnet, nil
	case "mainnet":
		return s.mainnet, nil
	}
	return nil, errors.New("no chain named " + name)
}

type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}
