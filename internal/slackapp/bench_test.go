package slackapp

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkConcurrentClicks sends 50 signed Approve clicks at once to the
// handler over loopback HTTP, with a Decider that answers immediately, and
// reports the latency to the HTTP ack (what Slack's 3 s budget measures).
// The signal and ephemeral reply run after the ack and are not timed, but
// each round waits for them so rounds do not pile up.
func BenchmarkConcurrentClicks(b *testing.B) {
	const clicks = 50
	f := newFixture(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clicks}}
	var lat []time.Duration
	var mu sync.Mutex
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		reqs := make([]*http.Request, clicks)
		for i := range reqs {
			body := f.click("U01ALICE", ActionApprove, f.value())
			req, _ := http.NewRequest(http.MethodPost, f.srv.URL, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			sign(req, secret, time.Now(), body)
			reqs[i] = req
		}
		b.StartTimer()
		var wg sync.WaitGroup
		for _, req := range reqs {
			wg.Go(func() {
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(start)
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
		}
		wg.Wait()
		b.StopTimer()
		f.h.Wait()
		b.StartTimer()
	}
	b.StopTimer()
	if got, want := len(f.decider.got()), len(lat); got != want {
		b.Fatalf("%d decisions for %d acked clicks", got, want)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ack-ms")
	b.ReportMetric(pct(0.99), "p99-ack-ms")
	b.ReportMetric(float64(clicks), "clicks/op")
}
