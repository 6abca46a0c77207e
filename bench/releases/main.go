// Command releases is shipgate's scale benchmark: it starts N releases against a running
// Temporal (the dev server it starts itself, or a frontend -address names) and the real
// worker binary, drives their G1 and G3 signoffs as people would (signed decide updates),
// waits until every release is in its testnet soak or has failed, and reports the wall time,
// the failures, the worker's and the server's memory and CPU during the ramp, the activities'
// schedule-to-start latency and what each release cost the server, read from histories.
//
//	go tool task bench:releases -- -n 1000 -concurrency 8 [-address host:port -server-pids 123,456] [-workers 2]
package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"golang.org/x/crypto/ssh"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/devstack/people"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/policies"
	"github.com/shipgate/shipgate/internal/release"
)

//go:embed policy.yaml
var policyYAML string

// policyName is the name the benchmark's policy has on its workers.
const policyName = "bench"

// config is the benchmark's flags.
type config struct {
	N           int
	Concurrency int
	Address     string // a running frontend; empty starts a dev server
	ServerPIDs  string // the processes of the server at Address (and its database), measured
	Workers     int
	WorkerBin   string   // empty builds ./worker
	WorkerEnv   []string // added to each worker's environment (tuning)
	Sample      int      // histories read for the per-release cost
	Memory      bool     // dev server without a database file
	Cluster     bool     // the Temporal server on PostgreSQL (devstack.StartCluster) instead
	Dynamic     []string // with Cluster: KEY=VALUE dynamic config of the server, beside devstack's
	Profile     string   // with Cluster: write the server's CPU profile of the ramp's first ProfileFor here
	ProfileFor  time.Duration
	Timeout     time.Duration
	JSON        string // also write the report here
	Soak        time.Duration
	Record      string // write the first release's whole history here, once it has ended
	Progress    io.Writer
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var cfg config
	var env, dyn listFlag
	flag.IntVar(&cfg.N, "n", 100, "releases to start")
	flag.IntVar(&cfg.Concurrency, "concurrency", 8, "releases started at a time (and signoff senders)")
	flag.StringVar(&cfg.Address, "address", "", "Temporal frontend host:port of a running server; empty: start a dev server")
	flag.StringVar(&cfg.ServerPIDs, "server-pids", "", "with -address: comma-separated process ids of the server (and its database) to measure")
	flag.IntVar(&cfg.Workers, "workers", 1, "worker processes to run")
	flag.StringVar(&cfg.WorkerBin, "worker-bin", "", "worker binary; empty: go build ./worker")
	flag.Var(&env, "worker-env", "KEY=VALUE added to every worker's environment (repeatable)")
	flag.IntVar(&cfg.Sample, "sample", 10, "release histories read for the per-release cost")
	flag.BoolVar(&cfg.Memory, "memory", false, "dev server without a database file (default: SQLite file, as the embedded stack)")
	flag.BoolVar(&cfg.Cluster, "cluster", false, "start the production-shaped cluster (Temporal server v1.29.1 on PostgreSQL) instead of the dev server")
	flag.Var(&dyn, "dynamic-config", "with -cluster: KEY=VALUE set in the server's dynamic config, to try a setting (repeatable)")
	flag.StringVar(&cfg.Profile, "server-profile", "", "with -cluster: write the server's CPU profile (pprof) of the ramp's first -profile-for here")
	flag.DurationVar(&cfg.ProfileFor, "profile-for", 30*time.Second, "how long -server-profile profiles")
	flag.DurationVar(&cfg.Timeout, "timeout", 20*time.Minute, "give up waiting for the soak after this long")
	flag.StringVar(&cfg.JSON, "json", "", "also write the report as JSON to this file")
	flag.DurationVar(&cfg.Soak, "soak", 2*time.Hour, "the policy's testnet soak (long enough that no release leaves it during the ramp)")
	flag.StringVar(&cfg.Record, "record", "", "after the ramp, wait for the first release to end and write its history (JSON, for workflows/testdata/histories) here; use a short -soak")
	flag.Parse()
	cfg.WorkerEnv, cfg.Dynamic = env, dyn
	cfg.Progress = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg)
	if rep != nil {
		rep.print(os.Stdout)
		if cfg.JSON != "" {
			b, _ := json.MarshalIndent(rep, "", "  ")
			if werr := os.WriteFile(cfg.JSON, b, 0o644); werr != nil {
				err = errors.Join(err, werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// report is what one run measured.
type report struct {
	N             int       `json:"n"`
	Concurrency   int       `json:"concurrency"`
	Server        string    `json:"server"`
	Workers       int       `json:"workers"`
	LoadBefore    string    `json:"loadBefore"` // /proc/loadavg when the ramp began
	LoadAfter     string    `json:"loadAfter"`
	InSoak        int       `json:"inSoak"`
	Failures      int       `json:"failures"`
	FailureNotes  []string  `json:"failureNotes,omitempty"`
	FirstError    string    `json:"firstError,omitempty"` // the first start or signoff that failed
	StartErrors   int       `json:"startErrors"`
	Refusals      int       `json:"signoffRefusals"`
	StartedSec    float64   `json:"startedSeconds"`  // until the last start returned
	WallSec       float64   `json:"wallSeconds"`     // until every release was in the soak (or failed)
	Milestones    []float64 `json:"quartileSeconds"` // until 25, 50, 75 and 100 % were in the soak
	WorkerPeakMiB float64   `json:"workerRSSPeakMiB"`
	WorkerHWMMiB  float64   `json:"workerVmHWMMiB"`
	ServerPeakMiB float64   `json:"serverRSSPeakMiB"`
	WorkerCPUSec  float64   `json:"workerCPUSeconds"`
	ServerCPUSec  float64   `json:"serverCPUSeconds"`
	// with -cluster, ServerCPUSec split: the Temporal server, PostgreSQL with its backends
	TemporalCPUSec float64       `json:"temporalCPUSeconds,omitempty"`
	PostgresCPUSec float64       `json:"postgresCPUSeconds,omitempty"`
	PG             *pgPerRelease `json:"postgresPerRelease,omitempty"`
	ListCalls      int64         `json:"visibilityListPages"` // the watch's own calls
	CountCalls     int64         `json:"visibilityCounts"`
	ActS2SAvgSec   float64       `json:"activityScheduleToStartAvgSeconds"`
	ActTasks       float64       `json:"activityTasks"` // through matching: with schedule-to-start
	ActRun         float64       `json:"activityTasksRun"`
	WFTS2SAvgSec   float64       `json:"workflowTaskScheduleToStartAvgSeconds"`
	WFTasks        float64       `json:"workflowTasks"`
	Deploys        int64         `json:"webhookDeploys"`
	Sampled        int           `json:"sampledHistories"`
	G1             cost          `json:"g1PerRelease"`
	G3             cost          `json:"g3PerRelease"`
	LineEvents     int64         `json:"lineWorkflowEvents"`
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "shipgate bench: %d releases, %d at a time, %s, %d worker(s)\n", r.N, r.Concurrency, r.Server, r.Workers)
	fmt.Fprintf(w, "load average before %s, after %s\n", r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(w, "in the testnet soak: %d/%d after %.1f s (all started after %.1f s); failures %d, start errors %d, signoffs refused %d\n",
		r.InSoak, r.N, r.WallSec, r.StartedSec, r.Failures, r.StartErrors, r.Refusals)
	if len(r.Milestones) > 0 {
		fmt.Fprintf(w, "  25/50/75/100 %% in the soak after %s s\n", strings.Trim(fmt.Sprintf("%.0f", r.Milestones), "[]"))
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "  first error: %s\n", r.FirstError)
	}
	for _, n := range r.FailureNotes {
		fmt.Fprintf(w, "  failed: %s\n", n)
	}
	fmt.Fprintf(w, "worker RSS peak %.0f MiB (sum of VmHWM %.0f MiB); server RSS peak %.0f MiB\n", r.WorkerPeakMiB, r.WorkerHWMMiB, r.ServerPeakMiB)
	fmt.Fprintf(w, "CPU during the ramp: worker %.1f s, server %.1f s", r.WorkerCPUSec, r.ServerCPUSec)
	if r.TemporalCPUSec+r.PostgresCPUSec > 0 {
		fmt.Fprintf(w, " (Temporal %.1f s, PostgreSQL %.1f s)", r.TemporalCPUSec, r.PostgresCPUSec)
	}
	if r.InSoak > 0 {
		fmt.Fprintf(w, "; per release in the soak: worker %.3f s, server %.3f s", r.WorkerCPUSec/float64(r.InSoak), r.ServerCPUSec/float64(r.InSoak))
	}
	fmt.Fprintln(w)
	if r.PG != nil {
		fmt.Fprintf(w, "PostgreSQL per release: commits %s; rows written %s\n", byFloat(r.PG.Commits), byFloat(r.PG.Rows))
	}
	fmt.Fprintf(w, "schedule-to-start, average: activities %.3f s (%.0f of %.0f tasks; the others eager), workflow tasks %.3f s (%.0f tasks)\n",
		r.ActS2SAvgSec, r.ActTasks, r.ActRun, r.WFTS2SAvgSec, r.WFTasks)
	if r.Sampled > 0 {
		var t cost // a sum of its own: adding into r.G1 would change its ByActivity map
		t.add(r.G1)
		t.add(r.G3)
		fmt.Fprintf(w, "per release (%d histories), G1 / G3 / through the soak's start:\n", r.Sampled)
		row := func(name string, f func(cost) int) {
			fmt.Fprintf(w, "  %-24s %6d %6d %6d\n", name, f(r.G1), f(r.G3), f(t))
		}
		row("history events", func(c cost) int { return c.Events })
		row("workflow tasks", func(c cost) int { return c.WorkflowTasks })
		row("activities", func(c cost) int { return c.Activities })
		row("local activities", func(c cost) int { return c.LocalActs })
		row("timers", func(c cost) int { return c.Timers })
		row("updates", func(c cost) int { return c.Updates })
		row("search attribute upserts", func(c cost) int { return c.Upserts })
		fmt.Fprintf(w, "  activities by type: %s\n", byActivity(t.ByActivity, 1))
	}
	fmt.Fprintf(w, "policy line workflow: %d history events (current run); traffic webhook calls %d\n", r.LineEvents, r.Deploys)
	fmt.Fprintf(w, "the benchmark's own visibility calls: %d list pages, %d counts\n", r.ListCalls, r.CountCalls)
}

// run sets up the stack, runs the ramp and measures it.
func run(ctx context.Context, cfg config) (*report, error) {
	if cfg.N < 1 || cfg.Concurrency < 1 || cfg.Workers < 1 {
		return nil, errors.New("-n, -concurrency and -workers must be at least 1")
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	root, err := devstack.RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "shipgate-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rep := &report{N: cfg.N, Concurrency: cfg.Concurrency, Workers: cfg.Workers}

	// the server
	server := &procGroup{}
	var cluster *devstack.Cluster
	addr := cfg.Address
	switch {
	case addr == "" && cfg.Cluster:
		if err := os.Chmod(dir, 0o755); err != nil { // PostgreSQL runs as nobody and must reach its directory
			return nil, err
		}
		o := devstack.ClusterOptions{Dir: filepath.Join(dir, "cluster")}
		for _, kv := range cfg.Dynamic {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("-dynamic-config %q: want KEY=VALUE", kv)
			}
			o.DynamicConfig = append(o.DynamicConfig, [2]string{k, v})
		}
		cl, err := devstack.StartCluster(ctx, o)
		if err != nil {
			return nil, err
		}
		defer func() { _ = cl.Stop() }()
		addr = cl.Address()
		server.pids = []int{cl.Server.Cmd.Process.Pid, cl.Postgres.Cmd.Process.Pid}
		server.withChildren = true // PostgreSQL's backends, one per connection
		cluster = cl
		rep.Server = "Temporal server v1.29.1 on PostgreSQL " + addr
	case addr == "":
		o := devstack.TemporalOptions{Log: filepath.Join(dir, "temporal.log")}
		if !cfg.Memory {
			o.DBFile = filepath.Join(dir, "temporal.db")
		}
		t, err := devstack.StartTemporal(ctx, o)
		if err != nil {
			return nil, err
		}
		defer func() { _ = t.Stop() }()
		addr, server.pids = t.Address, []int{t.Cmd.Process.Pid}
		rep.Server = "dev server " + addr
		if cfg.Memory {
			rep.Server += " (in memory)"
		} else {
			rep.Server += " (SQLite file)"
		}
	default:
		if server.pids, err = parsePIDs(cfg.ServerPIDs); err != nil {
			return nil, err
		}
		server.withChildren = true
		rep.Server = "server " + addr
	}

	// the traffic backend: answers every deploy at once
	var deploys atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hook := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		deploys.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = hook.Serve(ln) }()
	defer hook.Close()

	// the people, the worker's policy and the evidence every release submits
	keys := &people.Keyring{Dir: filepath.Join(dir, "keys")}
	src, polDir := filepath.Join(dir, "policy-src"), filepath.Join(dir, "policies")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	if cfg.Soak <= 0 {
		cfg.Soak = 2 * time.Hour
	}
	pol := strings.NewReplacer("{{WEBHOOK}}", "http://"+ln.Addr().String()+"/v1/traffic", "{{SOAK}}", cfg.Soak.String()).Replace(policyYAML)
	if err := os.WriteFile(filepath.Join(src, policyName+".yaml"), []byte(pol), 0o644); err != nil {
		return nil, err
	}
	if err := keys.RenderPolicies(src, polDir); err != nil {
		return nil, err
	}
	storeSpec := "dir:" + filepath.Join(dir, "evidence")
	m, err := benchManifest(ctx, root, storeSpec)
	if err != nil {
		return nil, err
	}

	// the workers
	workers, err := startWorkers(ctx, cfg, root, dir, addr, polDir, storeSpec)
	defer stopWorkers(workers)
	if err != nil {
		return nil, err
	}
	wg := &procGroup{}
	for _, w := range workers {
		wg.pids = append(wg.pids, w.cmd.Process.Pid)
	}

	c, err := client.Dial(client.Options{HostPort: addr, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return nil, err
	}
	defer c.Close()

	// the ramp
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() { sampleEvery(250*time.Millisecond, stopSampling, wg, server); close(sampled) }()
	rep.LoadBefore = loadavg()
	var parts []*procGroup // with the cluster: Temporal, PostgreSQL
	var pg0 pgCounts
	if cluster != nil {
		parts = []*procGroup{{pids: server.pids[:1]}, {pids: server.pids[1:], withChildren: true}}
		if pg0, err = readPG(ctx, cluster.Ports.Postgres); err != nil {
			return nil, err
		}
		if cfg.Profile != "" {
			profiled := profileServer(ctx, cfg, cluster.Ports.PProf)
			defer func() { <-profiled }()
		}
	}
	cpuW0, cpuS0 := wg.cpu(), server.cpu()
	var cpuP0 []float64
	for _, p := range parts {
		cpuP0 = append(cpuP0, p.cpu())
	}
	service := "bench-" + strings.ToLower(rand.Text()[:8])
	r := &ramp{cfg: cfg, c: c, keys: keys, m: *m, service: service, rep: rep, queued: map[string]bool{}}
	began := time.Now()
	err = r.run(ctx, began)
	rep.WallSec = time.Since(began).Seconds()
	rep.WorkerCPUSec, rep.ServerCPUSec = wg.cpu()-cpuW0, server.cpu()-cpuS0
	if len(parts) == 2 {
		rep.TemporalCPUSec, rep.PostgresCPUSec = parts[0].cpu()-cpuP0[0], parts[1].cpu()-cpuP0[1]
	}
	rep.LoadAfter = loadavg()
	if cluster != nil && rep.InSoak > 0 {
		time.Sleep(pgSettle)
		if pg1, perr := readPG(context.Background(), cluster.Ports.Postgres); perr == nil {
			d := perRelease(pg0, pg1, rep.InSoak)
			rep.PG = &d
		} else {
			fmt.Fprintln(cfg.Progress, "bench: PostgreSQL statistics:", perr)
		}
	}
	close(stopSampling)
	<-sampled
	rep.WorkerPeakMiB, rep.WorkerHWMMiB = float64(wg.peakKiB)/1024, float64(wg.hwmKiB())/1024
	rep.ServerPeakMiB = float64(server.peakKiB) / 1024
	rep.Deploys = deploys.Load()
	for _, w := range workers {
		s2s, err := scrape("http://" + w.http + "/metrics")
		if err != nil {
			fmt.Fprintln(cfg.Progress, "bench: metrics of a worker:", err)
			continue
		}
		rep.ActTasks += s2s.actCount
		rep.ActRun += s2s.actRun
		rep.WFTasks += s2s.wftCount
		rep.ActS2SAvgSec += s2s.actSum
		rep.WFTS2SAvgSec += s2s.wftSum
	}
	if rep.ActTasks > 0 {
		rep.ActS2SAvgSec /= rep.ActTasks
	}
	if rep.WFTasks > 0 {
		rep.WFTS2SAvgSec /= rep.WFTasks
	}
	if serr := r.costs(); serr != nil {
		err = errors.Join(err, serr)
	}
	if cfg.Record != "" && err == nil && len(r.ids) > 0 {
		err = record(ctx, c, r.ids[0], cfg.Record)
	}
	return rep, err
}

// benchManifest is the demo release without its contracts (the benchmark has no chains),
// with its evidence uploaded to the store once: every release submits the same blobs.
func benchManifest(ctx context.Context, root, storeSpec string) (*release.Manifest, error) {
	path := filepath.Join(root, "deployments", "examples", "demo", "release.yaml")
	m, err := release.LoadRelease(path)
	if err != nil {
		return nil, err
	}
	m.Contracts, m.Changes.Contracts = nil, false
	for _, docs := range []string{"runbook", "rollback-procedure"} { // G4's, not in the policy
		delete(m.Evidence, docs)
	}
	store, err := evstore.Open(ctx, storeSpec)
	if err != nil {
		return nil, err
	}
	if err := evstore.Upload(ctx, store, path, m, nil); err != nil {
		return nil, err
	}
	return m, nil
}

type workerProc struct {
	cmd  *exec.Cmd
	http string
	log  string
}

func startWorkers(ctx context.Context, cfg config, root, dir, addr, polDir, storeSpec string) ([]*workerProc, error) {
	bin := cfg.WorkerBin
	if bin == "" {
		bin = filepath.Join(dir, "worker")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./worker")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./worker: %v\n%s", err, out)
		}
	}
	var out []*workerProc
	for i := range cfg.Workers {
		port, err := devstack.FreePort()
		if err != nil {
			return out, err
		}
		wdir := filepath.Join(dir, fmt.Sprintf("worker-%d", i))
		if err := os.MkdirAll(wdir, 0o755); err != nil {
			return out, err
		}
		w := &workerProc{http: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(wdir, "worker.log")}
		logf, err := os.Create(w.log)
		if err != nil {
			return out, err
		}
		w.cmd = exec.Command(bin)
		w.cmd.Dir = wdir
		w.cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+addr, "SHIPGATE_HTTP_ADDR="+w.http,
			policies.EnvDir+"="+polDir, policies.EnvAllowDev+"=true", evstore.EnvStore+"="+storeSpec,
			"SHIPGATE_CHAIN_DATA="+filepath.Join(wdir, "chain"), "SHIPGATE_LOG_LEVEL=warn")
		w.cmd.Env = append(w.cmd.Env, cfg.WorkerEnv...)
		w.cmd.Stdout, w.cmd.Stderr = logf, logf
		err = w.cmd.Start()
		logf.Close()
		if err != nil {
			return out, err
		}
		out = append(out, w)
	}
	for _, w := range out {
		if err := waitReady(ctx, w); err != nil {
			return out, err
		}
	}
	return out, nil
}

func waitReady(ctx context.Context, w *workerProc) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get("http://" + w.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(w.log)
			return fmt.Errorf("worker not ready after 2 min: %v\n%s", err, b)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopWorkers stops the workers as their operator would (SIGTERM), killing one that hangs.
func stopWorkers(ws []*workerProc) {
	for _, w := range ws {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, w := range ws {
		done := make(chan struct{})
		go func() { _ = w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = w.cmd.Process.Kill()
			<-done
		}
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// ramp starts the releases and drives them into the soak.
type ramp struct {
	cfg     config
	c       client.Client
	keys    *people.Keyring
	m       release.Manifest
	service string
	rep     *report

	mu        sync.Mutex
	queued    map[string]bool // "gate id": signoffs queued
	ids       []string        // started, in order
	refusals  atomic.Int64
	startErrs atomic.Int64
	// lists and counts are the visibility calls the watch made (list pages, counts): the
	// benchmark's own observation, which the server's CPU includes
	lists, counts atomic.Int64
	firstErr      error
}

// signoff is a gate's signoffs for one release, sent once the gate is open.
type signoff struct {
	id, gate, check string
	actors          []string
}

func (r *ramp) run(ctx context.Context, began time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	starter, err := r.keys.Signer("rm-ada")
	if err != nil {
		return err
	}
	jobs := make(chan int)
	signoffs := make(chan signoff, 2*r.cfg.N)
	var starting, signing sync.WaitGroup
	for range r.cfg.Concurrency {
		starting.Add(1)
		go func() {
			defer starting.Done()
			for i := range jobs {
				r.start(ctx, starter, i)
			}
		}()
	}
	for range 2 * r.cfg.Concurrency {
		signing.Add(1)
		go func() {
			defer signing.Done()
			for s := range signoffs {
				r.signoff(ctx, s)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range r.cfg.N {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	startsDone := make(chan struct{})
	go func() {
		starting.Wait()
		r.rep.StartedSec = time.Since(began).Seconds()
		close(startsDone)
	}()
	err = r.watch(ctx, began, signoffs)
	cancel() // the senders stop with the watch
	<-startsDone
	close(signoffs)
	signing.Wait()
	r.rep.StartErrors, r.rep.Refusals = int(r.startErrs.Load()), int(r.refusals.Load())
	r.rep.ListCalls, r.rep.CountCalls = r.lists.Load(), r.counts.Load()
	r.mu.Lock()
	if r.firstErr != nil {
		r.rep.FirstError = r.firstErr.Error()
	}
	r.mu.Unlock()
	return err
}

func (r *ramp) start(ctx context.Context, signer ssh.Signer, i int) {
	m := r.m
	m.Service, m.Version = r.service, fmt.Sprintf("1.4.%d", i)
	run, err := control.Start(ctx, r.c, signer, "rm-ada", release.Input{Manifest: m, PolicyName: policyName}, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL)
	if err != nil {
		r.fail(fmt.Errorf("start %s: %w", m.ID(), err))
		r.startErrs.Add(1)
		return
	}
	r.mu.Lock()
	r.ids = append(r.ids, run.GetID())
	r.mu.Unlock()
}

func (r *ramp) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.firstErr == nil {
		r.firstErr = err
	}
}

// signoff sends each approval of an open gate as the CLI does: signed, as the decide update.
func (r *ramp) signoff(ctx context.Context, s signoff) {
	for attempt := 1; ctx.Err() == nil; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		var left []string
		for _, who := range s.actors {
			signer, err := r.keys.Signer(who)
			if err != nil {
				r.fail(err)
				return
			}
			e, err := control.Send(ctx, r.c, signer, s.id, release.SignalApprove,
				release.Command{Actor: who, Channel: release.ChannelCLI, Check: s.check, Comment: "bench"})
			if err == nil && e.Accepted {
				continue
			}
			// Refused or lost (an overloaded server times calls out): counted, and sent again
			// after the status is read again, as a person would.
			r.refusals.Add(1)
			if err == nil {
				err = errors.New(e.Reason)
			}
			fmt.Fprintf(r.cfg.Progress, "bench: %s approves %s of %s (attempt %d): %v\n", who, s.check, s.id, attempt, err)
			left = append(left, who)
		}
		if s.actors = left; len(left) == 0 || attempt == 5 {
			if len(left) > 0 {
				r.fail(fmt.Errorf("%s of %s: %v did not get their approvals in", s.check, s.id, left))
			}
			return
		}
	}
}

// watch follows the releases through visibility (their search attributes), as a person
// follows the Slack channel: a release waiting in development has started G1 (its gates start
// before its stage waits), one waiting in staging has started G3, and their signoffs are
// queued; reading each release's status instead cost the starved server a query task per
// release and poll. It returns once every release is in the soak (stage testnet, waiting) or
// has failed.
func (r *ramp) watch(ctx context.Context, began time.Time, signoffs chan<- signoff) error {
	q := fmt.Sprintf("ReleaseService = %q", r.service)
	lastPrint := time.Now()
	for {
		for _, s := range []signoff{
			{gate: "G1", check: "peer-review", actors: []string{"bob", "carol"}}, // the author, alice, may not
			{gate: "G3", check: "qa-validation", actors: []string{"grace"}},
		} {
			stage := map[string]release.Stage{"G1": release.StageDevelopment, "G3": release.StageStaging}[s.gate]
			if err := r.queueOpen(ctx, fmt.Sprintf(`%s AND ReleaseStage = %q AND ReleaseState = "waiting"`, q, stage), s, signoffs); err != nil && ctx.Err() == nil {
				fmt.Fprintln(r.cfg.Progress, "bench: list:", err)
			}
		}
		soak, err1 := r.count(ctx, q+` AND ReleaseStage = "testnet" AND ReleaseState = "waiting"`)
		failed, err2 := r.count(ctx, q+` AND (ReleaseState = "failed" OR ReleaseState = "blocked" OR ReleaseState = "aborted" OR ExecutionStatus != "Running")`)
		if err := errors.Join(err1, err2); err == nil {
			r.rep.InSoak, r.rep.Failures = soak, failed
			for len(r.rep.Milestones) < 4 && soak*4 >= r.cfg.N*(len(r.rep.Milestones)+1) {
				r.rep.Milestones = append(r.rep.Milestones, time.Since(began).Seconds())
			}
			if soak+failed+int(r.startErrs.Load()) >= r.cfg.N {
				r.failureNotes(ctx, q)
				return nil
			}
		} else if ctx.Err() == nil {
			fmt.Fprintln(r.cfg.Progress, "bench: count:", err)
		}
		if time.Since(lastPrint) >= 10*time.Second {
			lastPrint = time.Now()
			r.mu.Lock()
			started := len(r.ids)
			r.mu.Unlock()
			fmt.Fprintf(r.cfg.Progress, "%5.0f s: started %d, in soak %d, failed %d, load %s\n", time.Since(began).Seconds(), started, soak, failed, loadavg())
		}
		select {
		case <-ctx.Done():
			r.failureNotes(context.Background(), q)
			r.mu.Lock()
			defer r.mu.Unlock()
			return errors.Join(fmt.Errorf("after %.0f s: %d of %d releases in the soak, %d failed", time.Since(began).Seconds(), r.rep.InSoak, r.cfg.N, r.rep.Failures), r.firstErr)
		case <-time.After(time.Second): // a visibility query scans the store: once a second will do
		}
	}
}

func (r *ramp) queueOpen(ctx context.Context, q string, s signoff, signoffs chan<- signoff) error {
	var token []byte
	for {
		r.lists.Add(1)
		resp, err := r.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, NextPageToken: token, PageSize: 1000})
		if err != nil {
			return err
		}
		for _, e := range resp.GetExecutions() {
			s.id = e.GetExecution().GetWorkflowId()
			r.mu.Lock()
			seen := r.queued[s.gate+" "+s.id]
			r.queued[s.gate+" "+s.id] = true
			r.mu.Unlock()
			if !seen {
				signoffs <- s
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return nil
		}
	}
}

func (r *ramp) count(ctx context.Context, q string) (int, error) {
	r.counts.Add(1)
	resp, err := r.c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: q})
	if err != nil {
		return 0, err
	}
	return int(resp.GetCount()), nil
}

// failureNotes records why (up to five) releases failed, from their status.
func (r *ramp) failureNotes(ctx context.Context, q string) {
	resp, err := r.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 5,
		Query: q + ` AND (ReleaseState = "failed" OR ReleaseState = "blocked" OR ReleaseState = "aborted" OR ExecutionStatus != "Running")`})
	if err != nil {
		return
	}
	for _, e := range resp.GetExecutions() {
		id := e.GetExecution().GetWorkflowId()
		note := id + ": " + e.GetStatus().String()
		if st, err := control.Status(ctx, r.c, id); err == nil {
			note = fmt.Sprintf("%s: %s/%s %s %v", id, st.Stage, st.State, st.Reason, st.WaitingFor)
		}
		r.rep.FailureNotes = append(r.rep.FailureNotes, note)
	}
}

// costs reads the histories of a sample of the releases in the soak, evenly spread over the
// order they started in, and the policy line's history length.
func (r *ramp) costs() error {
	// its own budget: the ramp's context may have ended (a timeout, ^C) and the costs are still wanted
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r.mu.Lock()
	ids := append([]string(nil), r.ids...)
	r.mu.Unlock()
	n := min(r.cfg.Sample, len(ids))
	var g1, g3 cost
	for k := range n {
		id := ids[k*len(ids)/n]
		rc, err := historyCost(ctx, r.c, id)
		if err != nil {
			return err
		}
		g1.add(rc.G1)
		g3.add(rc.G3)
	}
	if n > 0 {
		r.rep.Sampled = n
		r.rep.G1, r.rep.G3 = divide(g1, n), divide(g3, n)
	}
	if d, err := r.c.DescribeWorkflowExecution(ctx, release.LineID(policyName), ""); err == nil {
		r.rep.LineEvents = d.GetWorkflowExecutionInfo().GetHistoryLength()
	}
	return nil
}

// divide is the per-release average of a sum over n releases (rounded to nearest).
func divide(c cost, n int) cost {
	d := func(v int) int { return (v + n/2) / n }
	out := cost{Events: d(c.Events), WorkflowTasks: d(c.WorkflowTasks), Activities: d(c.Activities), LocalActs: d(c.LocalActs),
		Timers: d(c.Timers), Updates: d(c.Updates), Signals: d(c.Signals), Upserts: d(c.Upserts), ByActivity: map[string]int{}}
	for k, v := range c.ByActivity {
		out.ByActivity[k] = d(v)
	}
	return out
}

// record waits for a release to end and writes its whole history as JSON, the form the replay
// test reads (workflows/testdata/histories).
func record(ctx context.Context, c client.Client, id, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var res release.Result
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		return fmt.Errorf("record %s: %w", id, err)
	}
	if res.State != release.StateSucceeded {
		return fmt.Errorf("record %s: ended %s in %s: %s", id, res.State, res.Stage, res.Reason)
	}
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return err
		}
		hist.Events = append(hist.Events, ev)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
