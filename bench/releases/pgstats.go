package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shipgate/shipgate/internal/devstack"
)

// pgCounts are PostgreSQL's cumulative statistics of the cluster's two databases
// (pg_stat_database, pg_stat_user_tables): transactions committed and rows written, in all
// and by table. Read before and after the ramp, their difference over the releases is what a
// release costs the database, without pg_stat_statements (which would need a preloaded library
// in every cluster the tests start).
type pgCounts struct {
	Commits map[string]int64 // by database
	Rows    map[string]int64 // rows inserted, updated and deleted, by "database.table"
}

// pgDatabases are the databases of the cluster (SetupClusterSchema).
var pgDatabases = []string{"temporal", "temporal_visibility"}

// readPG reads the counters through Debian's psql.
func readPG(ctx context.Context, port int) (pgCounts, error) {
	out := pgCounts{Commits: map[string]int64{}, Rows: map[string]int64{}}
	bin, err := devstack.PostgresBinDir()
	if err != nil {
		return out, err
	}
	for _, db := range pgDatabases {
		q := `SELECT 'db', xact_commit FROM pg_stat_database WHERE datname = current_database()
UNION ALL SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables`
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "psql"), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", devstack.PostgresUser,
			"-d", db, "-AtF", "\t", "-c", q)
		b, err := cmd.Output()
		if err != nil {
			return out, fmt.Errorf("psql on %s: %w", db, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			name, v, ok := strings.Cut(line, "\t")
			n, err := strconv.ParseInt(v, 10, 64)
			if !ok || err != nil {
				return out, fmt.Errorf("psql on %s: unexpected line %q", db, line)
			}
			if name == "db" {
				out.Commits[db] = n
			} else if n > 0 {
				out.Rows[db+"."+name] = n
			}
		}
	}
	return out, nil
}

// pgSettle is how long a PostgreSQL backend may hold its statistics before it reports them
// (PGSTAT_IDLE_INTERVAL, 10 s in PostgreSQL 15): the counters after the ramp are read later.
const pgSettle = 11 * time.Second

// pgPerRelease is the difference of two readings over n releases.
type pgPerRelease struct {
	Commits map[string]float64 `json:"commits"`
	Rows    map[string]float64 `json:"rowsWritten"`
}

func perRelease(before, after pgCounts, n int) pgPerRelease {
	out := pgPerRelease{Commits: map[string]float64{}, Rows: map[string]float64{}}
	for k, v := range after.Commits {
		out.Commits[k] = float64(v-before.Commits[k]) / float64(n)
	}
	for k, v := range after.Rows {
		if d := v - before.Rows[k]; d > 0 {
			out.Rows[k] = float64(d) / float64(n)
		}
	}
	return out
}

// byFloat prints per-release figures, largest first.
func byFloat(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if m[k] >= 0.05 {
			parts = append(parts, fmt.Sprintf("%s %.1f", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// profileServer fetches the server's CPU profile of the next cfg.ProfileFor into cfg.Profile;
// the channel closes when it is written (or failed, said on Progress).
func profileServer(ctx context.Context, cfg config, port int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", port, int(cfg.ProfileFor.Seconds()))
		err := func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", url, resp.Status)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			return os.WriteFile(cfg.Profile, b, 0o644)
		}()
		if err != nil {
			fmt.Fprintln(cfg.Progress, "bench: server profile:", err)
		}
	}()
	return done
}
