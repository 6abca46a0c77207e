package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/shipgate/shipgate/internal/searchattr"
)

// The production-shaped local cluster: the Temporal server (v1.29.1, built from the module
// proxy by `go tool task tools:temporal-server`) with its four services (frontend, history,
// matching, worker) in one process, persisting to PostgreSQL (Debian's package) through the
// postgres12 plugin, default and visibility stores in two databases whose schemas
// temporal-sql-tool sets up. Several shipgate workers poll it; tests kill them and the server.

// ServerBinaries finds the Temporal server and its SQL schema tool in the repository's .bin/
// (or $SHIPGATE_TEMPORAL_SERVER and $SHIPGATE_TEMPORAL_SQL_TOOL).
func ServerBinaries() (server, sqlTool string, err error) {
	server, sqlTool = os.Getenv("SHIPGATE_TEMPORAL_SERVER"), os.Getenv("SHIPGATE_TEMPORAL_SQL_TOOL")
	if root, rerr := RepoRoot(); rerr == nil {
		if server == "" {
			server = filepath.Join(root, ".bin", "temporal-server")
		}
		if sqlTool == "" {
			sqlTool = filepath.Join(root, ".bin", "temporal-sql-tool")
		}
	}
	for _, p := range []string{server, sqlTool} {
		if _, err := os.Stat(p); p == "" || err != nil {
			return "", "", fmt.Errorf("the Temporal server binaries are missing (%s): run `go tool task tools:temporal-server` (builds temporal-server and temporal-sql-tool into .bin/)", p)
		}
	}
	return server, sqlTool, nil
}

// ClusterPorts are the loopback ports of one cluster, all below 32768 (FreeLowPort).
type ClusterPorts struct {
	Postgres     int
	Frontend     int // gRPC: the address clients and workers dial
	FrontendHTTP int
	History      int
	Matching     int
	Worker       int
	Membership   [4]int // frontend, history, matching, worker
	// PProf serves the server's Go profiles (global.pprof: /debug/pprof/ on loopback), for
	// finding what a release costs it (bench/releases -server-profile).
	PProf int
}

// FixedClusterPorts are the ports of `go tool task up:cluster`: the frontend where the dev
// server listens (7233), so the CLI, the demo and the worker find it the same way.
var FixedClusterPorts = ClusterPorts{Postgres: 5433, Frontend: 7233, FrontendHTTP: 7243, History: 7234, Matching: 7235, Worker: 7239,
	Membership: [4]int{6933, 6934, 6935, 6939}, PProf: 7936}

// FreeClusterPorts picks free ports for a cluster of a test or a benchmark.
func FreeClusterPorts() (ClusterPorts, error) {
	var p ClusterPorts
	seen := map[int]bool{}
	for _, dst := range []*int{&p.Postgres, &p.Frontend, &p.FrontendHTTP, &p.History, &p.Matching, &p.Worker,
		&p.Membership[0], &p.Membership[1], &p.Membership[2], &p.Membership[3], &p.PProf} {
		for {
			port, err := FreeLowPort()
			if err != nil {
				return p, err
			}
			if !seen[port] {
				seen[port], *dst = true, port
				break
			}
		}
	}
	return p, nil
}

// ClusterServerGOGC is the Temporal server's GOGC: its heap may grow to three times what is
// live between collections instead of twice. Measured with bench/releases: a ramp of 1,000
// releases spent about an eighth of the server's own CPU seconds less (its garbage collector
// was 8 % of its profile), for a few hundred MiB more of a process that has them.
const ClusterServerGOGC = 200

// ClusterServerEnv is what the Temporal server's environment adds to the caller's.
func ClusterServerEnv() []string { return []string{"GOGC=" + strconv.Itoa(ClusterServerGOGC)} }

// ClusterNamespace is the namespace the cluster serves shipgate in, as the dev server does.
const ClusterNamespace = "default"

// ClusterHistoryShards is small: one machine, a few hundred releases. A real cluster sizes it
// for its peak (it cannot change after the first start).
const ClusterHistoryShards = 4

// SetupClusterSchema creates the default and visibility databases on a fresh instance and
// brings their schemas to the server's version with temporal-sql-tool (the schemas are
// embedded in the tool: postgresql/v12/temporal and postgresql/v12/visibility).
func SetupClusterSchema(ctx context.Context, sqlTool string, pgPort int) error {
	for _, db := range []struct{ name, schema string }{{"temporal", "postgresql/v12/temporal"}, {"temporal_visibility", "postgresql/v12/visibility"}} {
		base := []string{"--plugin", "postgres12", "--ep", "127.0.0.1", "--port", strconv.Itoa(pgPort), "--user", PostgresUser, "--db", db.name}
		for _, args := range [][]string{
			{"create-database"},
			{"setup-schema", "-v", "0.0"},
			{"update-schema", "--schema-name", db.schema},
		} {
			cmd := exec.CommandContext(ctx, sqlTool, append(base, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("temporal-sql-tool %s on %s: %v\n%s", args[0], db.name, err, out)
			}
		}
	}
	return nil
}

// WriteClusterConfig writes the server's configuration into dir/config/shipgate.yaml and its
// dynamic config beside it (ServerLimits and ServerTuning, as the dev server runs with, then
// extra: key and value, for trying a setting with bench/releases), and returns the arguments
// that start the server with it.
func WriteClusterConfig(dir string, p ClusterPorts, extra ...[2]string) ([]string, error) {
	cfgDir := filepath.Join(dir, "config")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return nil, err
	}
	dyn := filepath.Join(cfgDir, "dynamic.yaml")
	// as the dev server: ten visibility requests a second are too few for `shipgate list` and
	// the UI beside a release's own status queries
	values := append(serverDynamicValues(), [2]string{"frontend.namespaceRPS.visibility", "100"})
	var d strings.Builder
	for i, kv := range append(values, extra...) {
		if slices.ContainsFunc(extra[max(0, i-len(values)+1):], func(e [2]string) bool { return e[0] == kv[0] }) {
			continue // set again later (a key twice is not YAML)
		}
		fmt.Fprintf(&d, "%s:\n  - value: %s\n", kv[0], kv[1])
	}
	if err := os.WriteFile(dyn, []byte(d.String()), 0o644); err != nil {
		return nil, err
	}
	store := func(db string, conns int) string {
		return fmt.Sprintf(`      sql:
        pluginName: postgres12
        databaseName: %s
        connectAddr: "127.0.0.1:%d"
        connectProtocol: tcp
        user: %s
        password: ""
        maxConns: %d
        maxIdleConns: %d
        maxConnLifetime: 1h
`, db, p.Postgres, PostgresUser, conns, conns)
	}
	svc := func(name string, grpc, membership, http int) string {
		s := fmt.Sprintf("  %s:\n    rpc:\n      grpcPort: %d\n      membershipPort: %d\n      bindOnLocalHost: true\n", name, grpc, membership)
		if http != 0 {
			s += fmt.Sprintf("      httpPort: %d\n", http)
		}
		return s
	}
	cfg := `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: ` + strconv.Itoa(ClusterHistoryShards) + `
  datastores:
    default:
` + store("temporal", 20) + `    visibility:
` + store("temporal_visibility", 10) + `global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  pprof:
    port: ` + strconv.Itoa(p.PProf) + `
    host: 127.0.0.1
services:
` + svc("frontend", p.Frontend, p.Membership[0], p.FrontendHTTP) +
		svc("history", p.History, p.Membership[1], 0) +
		svc("matching", p.Matching, p.Membership[2], 0) +
		svc("worker", p.Worker, p.Membership[3], 0) + `clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:` + strconv.Itoa(p.Frontend) + `"
      httpAddress: "127.0.0.1:` + strconv.Itoa(p.FrontendHTTP) + `"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "` + dyn + `"
  pollInterval: 10s
`
	if err := os.WriteFile(filepath.Join(cfgDir, "shipgate.yaml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	return []string{"--root", dir, "--config", "config", "--env", "shipgate", "--allow-no-auth", "start"}, nil
}

// serverDynamicValues are ServerDynamicArgs as dynamic config keys and values.
func serverDynamicValues() [][2]string {
	var out [][2]string
	args := ServerDynamicArgs()
	for i := 1; i < len(args); i += 2 {
		k, v, _ := strings.Cut(args[i], "=")
		out = append(out, [2]string{k, v})
	}
	return out
}

// PrepareNamespace registers the namespace (a SQL-backed server starts with none) and
// shipgate's search attributes, and waits until both are served: the workers' own
// registration then finds them, and the first release can set them.
func PrepareNamespace(ctx context.Context, address, namespace string) error {
	c, err := client.DialContext(ctx, client.Options{HostPort: address, Namespace: namespace, Logger: nopLogger{}})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: namespace,
		WorkflowExecutionRetentionPeriod: durationpb.New(72 * time.Hour)})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("registering namespace %s: %w", namespace, err)
	}
	// the frontend learns of a new namespace on its next cache refresh (2 s)
	var last error
	for {
		if _, last = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace}); last == nil {
			if last = searchattr.Ensure(ctx, c, namespace); last == nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s not ready: %v", namespace, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

// ClusterOptions configure a cluster started by StartCluster.
type ClusterOptions struct {
	Dir   string       // state: the PostgreSQL data directory, the server's config, logs
	Ports ClusterPorts // zero: free ports (FreeClusterPorts)
	// DynamicConfig are further dynamic config keys and values (bench/releases -dynamic-config):
	// a later value of a key wins over an earlier one.
	DynamicConfig [][2]string
}

// Cluster is a running PostgreSQL instance and Temporal server.
type Cluster struct {
	Postgres *Postgres
	Server   *Temporal // Address is the frontend
	Dir      string
	Ports    ClusterPorts
	args     []string
	bin      string
}

// StartCluster starts PostgreSQL (initialized and its schemas set up on first use of Dir),
// the Temporal server on it and the namespace, and returns when the frontend serves the
// namespace. Logs go to Dir/postgres.log and Dir/temporal-server.log.
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	server, sqlTool, err := ServerBinaries()
	if err != nil {
		return nil, err
	}
	if o.Ports == (ClusterPorts{}) {
		if o.Ports, err = FreeClusterPorts(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	cl := &Cluster{Dir: o.Dir, Ports: o.Ports, bin: server}
	pgDir := filepath.Join(o.Dir, "postgres")
	fresh, err := InitPostgres(pgDir)
	if err != nil {
		return nil, err
	}
	if cl.Postgres, err = StartPostgres(ctx, pgDir, o.Ports.Postgres, filepath.Join(o.Dir, "postgres.log")); err != nil {
		return nil, err
	}
	if fresh {
		if err := SetupClusterSchema(ctx, sqlTool, o.Ports.Postgres); err != nil {
			_ = cl.Stop()
			return nil, err
		}
	}
	if cl.args, err = WriteClusterConfig(o.Dir, o.Ports, o.DynamicConfig...); err != nil {
		_ = cl.Stop()
		return nil, err
	}
	if _, err := cl.StartServer(ctx); err != nil {
		_ = cl.Stop()
		return nil, err
	}
	return cl, nil
}

// Address is the frontend's host:port.
func (cl *Cluster) Address() string { return "127.0.0.1:" + strconv.Itoa(cl.Ports.Frontend) }

// StartServer starts the Temporal server (again, after a kill: same database, same ports) and
// waits until it serves the namespace.
func (cl *Cluster) StartServer(ctx context.Context) (*Temporal, error) {
	logf, err := os.OpenFile(filepath.Join(cl.Dir, "temporal-server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(cl.bin, cl.args...)
	cmd.Env = append(os.Environ(), ClusterServerEnv()...)
	cmd.Stdout, cmd.Stderr = logf, logf
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cl.bin, err)
	}
	t := &Temporal{Cmd: cmd, Address: cl.Address()}
	cl.Server = t
	if err := WaitTemporal(ctx, t.Address, 3*time.Minute); err != nil {
		_ = t.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, logf.Name())
	}
	if err := PrepareNamespace(ctx, t.Address, ClusterNamespace); err != nil {
		_ = t.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, logf.Name())
	}
	return t, nil
}

// Stop stops the server, then PostgreSQL.
func (cl *Cluster) Stop() error {
	if cl.Server != nil {
		_ = cl.Server.Stop()
	}
	if cl.Postgres != nil {
		return cl.Postgres.Stop()
	}
	return nil
}

// TestCluster starts a cluster for a test on free ports; it stops with the test. A missing
// server binary or PostgreSQL fails the test (it says how to get them): the cluster's tests
// are part of the suite, never skipped.
func TestCluster(tb testing.TB) *Cluster {
	tb.Helper()
	if _, _, err := ServerBinaries(); err != nil {
		tb.Fatal(err)
	}
	if _, err := PostgresBinDir(); err != nil {
		tb.Fatal(err)
	}
	// not t.TempDir: PostgreSQL runs as nobody under root and must reach its directory
	dir, err := os.MkdirTemp("", "shipgate-cluster-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	// minutes: a starved machine is slow, not broken
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var cl *Cluster
	for try := 0; ; try++ {
		// a free port can be taken by another process before the server binds it: try again
		if cl, err = StartCluster(ctx, ClusterOptions{Dir: filepath.Join(dir, strconv.Itoa(try))}); err == nil || try == 2 || ctx.Err() != nil {
			break
		}
		tb.Logf("starting the cluster (try %d): %v", try+1, err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cl.Stop() })
	return cl
}
