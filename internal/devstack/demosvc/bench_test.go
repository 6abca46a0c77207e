package demosvc

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark measures the
// router and its metrics rather than a recorder's buffers.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func benchServer(b *testing.B) *Server {
	s, err := New(Config{Service: "demo", InitialVersion: "1.3.0", Environment: "production"})
	if err != nil {
		b.Fatal(err)
	}
	s.envs["production"] = Split{Stable: "1.3.0", Canary: "1.4.0", CanaryPercent: 5}
	return s
}

// BenchmarkRoute is one routed request through the handler: pick, headers, body, metrics.
func BenchmarkRoute(b *testing.B) {
	s := benchServer(b)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		s.handleRoute(w, req)
	}
}

// BenchmarkRouteParallel shows contention on the split lock and the metric children.
func BenchmarkRouteParallel(b *testing.B) {
	s := benchServer(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			s.handleRoute(w, req)
		}
	})
}

// BenchmarkRouteMux includes the ServeMux dispatch, as a real request sees it.
func BenchmarkRouteMux(b *testing.B) {
	h := benchServer(b).Handler()
	req := httptest.NewRequest(http.MethodGet, "/svc/orders/42", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
