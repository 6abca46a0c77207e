package devstack

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// PostgresUser is the superuser of the stack's private PostgreSQL instances; local
// connections are trusted (the instance listens on loopback and its own socket directory only).
const PostgresUser = "temporal"

// PostgresBinDir finds Debian's PostgreSQL server binaries (initdb, postgres, pg_isready):
// $SHIPGATE_POSTGRES_BIN, then the newest /usr/lib/postgresql/*/bin.
func PostgresBinDir() (string, error) {
	if d := os.Getenv("SHIPGATE_POSTGRES_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL not found in /usr/lib/postgresql/*/bin: install Debian's package (apt-get install postgresql; .ci/run does)")
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Postgres is a private PostgreSQL instance: its data directory, which is also its unix
// socket directory, and a loopback TCP port.
type Postgres struct {
	Dir  string
	Port int
	Cmd  *exec.Cmd // the running server, when started by StartPostgres
}

// asPostgresOwner makes cmd run as the owner of the data directory: PostgreSQL refuses to run
// as root, so when this process is root the instance belongs to nobody.
func asPostgresOwner(cmd *exec.Cmd) error {
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, err := nobody()
	if err != nil {
		return err
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return nil
}

func nobody() (int, int, error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return 0, 0, fmt.Errorf("running PostgreSQL as root needs the user nobody: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// InitPostgres creates the data directory with initdb unless it holds one already; fresh says
// it was created now (and so has no databases yet).
func InitPostgres(dir string) (fresh bool, err error) {
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err == nil {
		return false, nil
	}
	bin, err := PostgresBinDir()
	if err != nil {
		return false, err
	}
	// the directories above it searchable: under root the instance runs as nobody
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	if os.Geteuid() == 0 {
		uid, gid, err := nobody()
		if err != nil {
			return false, err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return false, err
		}
		if err := searchableByOthers(dir); err != nil {
			return false, err
		}
	}
	cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", dir, "-U", PostgresUser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	if err := asPostgresOwner(cmd); err != nil {
		return false, err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return false, fmt.Errorf("initdb %s: %v\n%s", dir, err, out)
	}
	return true, nil
}

// searchableByOthers checks that nobody can reach dir: every directory above it must be
// searchable by others (t.TempDir's are not; os.MkdirTemp in /tmp, made 0755, is).
func searchableByOthers(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("PostgreSQL runs as nobody (this process is root) and cannot reach %s: %s is not searchable by others", abs, d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// PostgresCommand is the command that runs the instance in the foreground: loopback only, its
// socket in its data directory, and settings for a throwaway test database on a small machine
// (no fsync: a crash of the machine loses it, a crash of the server does not).
func (p *Postgres) PostgresCommand() (*exec.Cmd, error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", p.Dir, "-k", p.Dir, "-h", "127.0.0.1", "-p", strconv.Itoa(p.Port),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
		"-c", "shared_buffers=64MB")
	return cmd, asPostgresOwner(cmd)
}

// StartPostgres initializes the data directory if needed, starts the instance on loopback and
// waits until it accepts connections. log gets its output (empty: discarded).
func StartPostgres(ctx context.Context, dir string, port int, log string) (*Postgres, error) {
	p := &Postgres{Dir: dir, Port: port}
	if _, err := InitPostgres(dir); err != nil {
		return nil, err
	}
	cmd, err := p.PostgresCommand()
	if err != nil {
		return nil, err
	}
	if log != "" {
		f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	p.Cmd = cmd
	if err := WaitPostgres(ctx, port, time.Minute); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, log)
	}
	return p, nil
}

// WaitPostgres waits until the instance on the loopback port accepts connections.
func WaitPostgres(ctx context.Context, port int, timeout time.Duration) error {
	bin, err := PostgresBinDir()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	var out []byte
	for time.Now().Before(deadline) {
		out, err = exec.CommandContext(ctx, filepath.Join(bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", PostgresUser).CombinedOutput()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("postgres on 127.0.0.1:%d not ready after %s: %v %s", port, timeout, err, out)
}

// Stop shuts the instance down (fast shutdown: SIGINT) and waits for it.
func (p *Postgres) Stop() error {
	if p.Cmd == nil || p.Cmd.Process == nil {
		return nil
	}
	_ = p.Cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- p.Cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	return nil
}

// FreeLowPort finds a free loopback port below 32768. Temporal's SQL persistence keeps
// membership ports in a smallint column, and the kernel hands out ephemeral ports (FreePort)
// from 32768 up: the cluster's ports come from here.
func FreeLowPort() (int, error) {
	for range 200 {
		port := 10000 + rand.IntN(32768-10000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port, nil
	}
	return 0, errors.New("no free loopback port below 32768")
}
