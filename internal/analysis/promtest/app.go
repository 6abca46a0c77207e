package promtest

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// App is the scraped test application: an httptest server on 127.0.0.1 exposing
// http_requests_total{service,version,code} and http_request_duration_seconds{service,version}
// for simulated traffic, generated every 100 ms from the profiles set with Serve.
type App struct {
	srv      *httptest.Server
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	cpu      *prometheus.CounterVec
	memory   *prometheus.GaugeVec

	mu       sync.Mutex
	profiles map[[2]string]*profile
	usage    map[[3]string]float64 // cores by service, environment, version
	stop     chan struct{}
	stopped  sync.WaitGroup
}

type profile struct {
	rps, errRatio float64
	latency       time.Duration
	reqAcc        float64
	errAcc        float64
}

// NewApp starts the application; it stops on cleanup.
func NewApp(t testing.TB) *App {
	reg := prometheus.NewRegistry()
	a := &App{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "Requests served, by service, version and status code.",
		}, []string{"service", "version", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "Request latency.", Buckets: prometheus.DefBuckets,
		}, []string{"service", "version"}),
		cpu: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "process_cpu_seconds_total", Help: "CPU time of the version's process.",
		}, []string{"service", "environment", "version"}),
		memory: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "process_resident_memory_bytes", Help: "Resident memory of the version's process.",
		}, []string{"service", "environment", "version"}),
		profiles: map[[2]string]*profile{},
		usage:    map[[3]string]float64{},
		stop:     make(chan struct{}),
	}
	reg.MustRegister(a.requests, a.duration, a.cpu, a.memory)
	a.srv = httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	a.stopped.Add(1)
	go a.generate()
	t.Cleanup(func() {
		close(a.stop)
		a.stopped.Wait()
		a.srv.Close()
	})
	return a
}

// Addr is host:port of the metrics endpoint (/metrics or any path).
func (a *App) Addr() string { return strings.TrimPrefix(a.srv.URL, "http://") }

// URL is the application's base URL, for HTTP probes.
func (a *App) URL() string { return a.srv.URL }

// Serve sets version's simulated traffic: rps requests per second, errRatio of them 5xx, each
// taking latency. Both code series exist from the start, so error ratios are 0, not absent.
func (a *App) Serve(service, version string, rps, errRatio float64, latency time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests.WithLabelValues(service, version, "200")
	a.requests.WithLabelValues(service, version, "500")
	a.duration.WithLabelValues(service, version)
	key := [2]string{service, version}
	p := a.profiles[key]
	if p == nil {
		p = &profile{}
		a.profiles[key] = p
	}
	p.rps, p.errRatio, p.latency = rps, errRatio, latency
}

// Resources makes the process of version on environment use cores of CPU and rss bytes of
// memory from now on, as a deployed instance reports them: process_cpu_seconds_total rising by
// cores each second and process_resident_memory_bytes, labelled service, environment, version.
func (a *App) Resources(service, environment, version string, cores, rss float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := [3]string{service, environment, version}
	a.usage[key] = cores
	a.cpu.WithLabelValues(key[:]...)
	a.memory.WithLabelValues(key[:]...).Set(rss)
}

func (a *App) generate() {
	defer a.stopped.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-tick.C:
			a.step(0.1)
		}
	}
}

// step adds dt seconds of traffic; accumulators keep fractional requests and errors exact.
func (a *App) step(dt float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for key, cores := range a.usage {
		a.cpu.WithLabelValues(key[:]...).Add(cores * dt)
	}
	for key, p := range a.profiles {
		p.reqAcc += p.rps * dt
		for ; p.reqAcc >= 1; p.reqAcc-- {
			code := "200"
			p.errAcc += p.errRatio
			if p.errAcc >= 1 {
				p.errAcc--
				code = "500"
			}
			a.requests.WithLabelValues(key[0], key[1], code).Inc()
			a.duration.WithLabelValues(key[0], key[1]).Observe(p.latency.Seconds())
		}
	}
}
