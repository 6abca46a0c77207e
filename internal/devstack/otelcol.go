package devstack

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// OtelcolBinary finds the OpenTelemetry Collector the tracing test runs: $SHIPGATE_OTELCOL,
// else the repository's git-ignored .bin/otelcol, which `go tool task tools:otelcol` builds
// from tools/otelcol (the collector's OTLP receiver and OTLP/HTTP exporter, nothing else).
func OtelcolBinary() (string, error) {
	return repoTool("SHIPGATE_OTELCOL", "otelcol", "tools:otelcol")
}

// Collector is a real OpenTelemetry Collector on loopback: its OTLP/gRPC receiver takes what
// shipgate exports, its OTLP/HTTP exporter forwards every span to a sink in this process,
// which keeps them for the test to read.
type Collector struct {
	// Endpoint is the receiver's address for --otlp-endpoint: http://127.0.0.1:PORT.
	Endpoint string
	Log      *bytes.Buffer
	cmd      *exec.Cmd
	done     chan error
	sink     *http.Server

	mu    sync.Mutex
	spans []Span
}

// Span is one received span with its resource's service.name.
type Span struct {
	Service string
	*tracepb.Span
}

// Attr is a string attribute of the span ("" if absent).
func (s Span) Attr(key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// StartCollector starts the collector and its sink; Stop ends both.
func StartCollector(ctx context.Context, dir string) (*Collector, error) {
	bin, err := OtelcolBinary()
	if err != nil {
		return nil, err
	}
	c := &Collector{Log: &bytes.Buffer{}, done: make(chan error, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.sink = &http.Server{Handler: http.HandlerFunc(c.receive), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = c.sink.Serve(ln) }()
	grpcPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	c.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", grpcPort)
	// the collector's own telemetry stays off: no fixed port of its own on a shared machine
	config := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
exporters:
  otlp_http:
    endpoint: http://%s
    compression: gzip
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: info
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_http]
`, grpcPort, ln.Addr())
	path := filepath.Join(dir, "otelcol.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		return nil, err
	}
	c.cmd = exec.Command(bin, "--config", "file:"+path)
	c.cmd.Stdout, c.cmd.Stderr = lockedBuffer{c}, lockedBuffer{c}
	if err := c.cmd.Start(); err != nil {
		_ = c.sink.Close()
		return nil, err
	}
	go func() { c.done <- c.cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", grpcPort), time.Second)
		if err == nil {
			conn.Close()
			return c, nil
		}
		select {
		case err := <-c.done:
			_ = c.sink.Close()
			return nil, fmt.Errorf("otelcol exited before listening: %v\n%s", err, c.LogString())
		case <-ctx.Done():
			c.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Stop()
			return nil, fmt.Errorf("otelcol not listening on %d after a minute:\n%s", grpcPort, c.LogString())
		}
	}
}

type lockedBuffer struct{ c *Collector }

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return l.c.Log.Write(p)
}

// LogString is the collector's output so far.
func (c *Collector) LogString() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Log.String()
}

// receive is the sink: OTLP/HTTP protobuf export requests, gzip-compressed.
func (c *Collector) receive(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.Error(w, "only POST /v1/traces", http.StatusNotFound)
		return
	}
	var body io.Reader = io.LimitReader(r.Body, 64<<20)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				service = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans = append(c.spans, Span{Service: service, Span: s})
			}
		}
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// Spans returns the spans received so far.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// Stop ends the collector (SIGTERM, then SIGKILL after 10 s) and the sink.
func (c *Collector) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	_ = c.sink.Close()
}
