package devstack

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/telemetry"
	"go.opentelemetry.io/otel/trace"
)

// A span exported by shipgate's tracing setup goes through the real collector and reaches the
// sink with its service name and attributes.
func TestCollectorRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := StartCollector(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if _, err := url.Parse(c.Endpoint); err != nil {
		t.Fatal(err)
	}
	tr, err := telemetry.NewTracing(ctx, c.Endpoint, "roundtrip")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider().Tracer("test").Start(ctx, "hello", trace.WithAttributes())
	span.End()
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(c.Spans()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no span reached the sink:\n%s", c.LogString())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := c.Spans()[0]; s.Name != "hello" || s.Service != "roundtrip" {
		t.Fatalf("span %s from %s", s.Name, s.Service)
	}
}
