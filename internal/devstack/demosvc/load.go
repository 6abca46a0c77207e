package demosvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Bounds of a load run: it exists to give the canary analysis a steady trickle of requests
// on this machine, not to stress anything.
const (
	MaxLoadRPS      = 2000
	MaxLoadDuration = time.Hour
	maxInFlight     = 256
)

// LoadConfig is one bounded load run against a demo service on this machine.
type LoadConfig struct {
	// Target is the URL to GET, e.g. http://127.0.0.1:8090/; its host must be a loopback
	// address or "localhost".
	Target string
	// RPS is the request rate, 1 to MaxLoadRPS.
	RPS int
	// Duration is how long to send, above 0 and at most MaxLoadDuration.
	Duration time.Duration
	// Client sends the requests; nil uses one with a 10 s timeout.
	Client *http.Client
}

// LoadResult counts what a load run saw.
type LoadResult struct {
	Sent int `json:"sent"`
	// Skipped counts ticks with no request sent because maxInFlight requests were pending.
	Skipped         int            `json:"skipped"`
	TransportErrors int            `json:"transportErrors"`
	ByCode          map[int]int    `json:"byCode"`
	ByVersion       map[string]int `json:"byVersion"`
	Elapsed         time.Duration  `json:"elapsed"`
}

// Validate checks a load config, the loopback-only target included.
func (c LoadConfig) Validate() error {
	u, err := url.Parse(c.Target)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("target: want an http or https URL, got %q", c.Target)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("target: host %q is not a loopback address; load runs only against this machine (127.0.0.1, [::1], localhost)", host)
	}
	if c.RPS < 1 || c.RPS > MaxLoadRPS {
		return fmt.Errorf("rps: must be between 1 and %d, got %d", MaxLoadRPS, c.RPS)
	}
	if c.Duration <= 0 || c.Duration > MaxLoadDuration {
		return fmt.Errorf("duration: must be above 0 and at most %s, got %s", MaxLoadDuration, c.Duration)
	}
	return nil
}

// Load sends cfg.RPS GET requests a second to cfg.Target for cfg.Duration (or until ctx is
// done), waits for the requests in flight, and returns the counts. It sends at most
// RPS × Duration requests.
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	if err := cfg.Validate(); err != nil {
		return LoadResult{}, fmt.Errorf("load: %w", err)
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	limit := int(float64(cfg.RPS) * cfg.Duration.Seconds())
	limit = max(limit, 1)
	res := LoadResult{ByCode: map[int]int{}, ByVersion: map[string]int{}}
	var mu sync.Mutex // guards res while requests finish
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxInFlight)

	start := time.Now()
	stop := time.NewTimer(cfg.Duration)
	defer stop.Stop()
	tick := time.NewTicker(time.Second / time.Duration(cfg.RPS))
	defer tick.Stop()
	for res.Sent+res.Skipped < limit {
		// Send the first request at once, then one per tick.
		if res.Sent+res.Skipped > 0 {
			select {
			case <-ctx.Done():
			case <-stop.C:
			case <-tick.C:
			}
			if ctx.Err() != nil || time.Since(start) >= cfg.Duration {
				break
			}
		}
		select {
		case slots <- struct{}{}:
		default:
			mu.Lock()
			res.Skipped++
			mu.Unlock()
			continue
		}
		mu.Lock()
		res.Sent++
		mu.Unlock()
		wg.Go(func() {
			defer func() { <-slots }()
			code, version, err := getOnce(ctx, client, cfg.Target)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.TransportErrors++
				return
			}
			res.ByCode[code]++
			if version != "" {
				res.ByVersion[version]++
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return res, fmt.Errorf("load against %s stopped early: %w", cfg.Target, err)
	}
	return res, nil
}

func getOnce(ctx context.Context, client *http.Client, target string) (code int, version string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	// Drain so the connection is reused instead of a new one per request.
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("X-Version"), nil
}
