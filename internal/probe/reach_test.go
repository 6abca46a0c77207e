package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// reportServer is an https server on loopback standing for a published report; the name
// example.com (in httptest's certificate) resolves to it through the test resolver.
func reportServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *Reachability, string) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	port := srv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	names := map[string][]netip.Addr{
		"example.com":          {netip.MustParseAddr("127.0.0.1")},
		"internal.example.com": {netip.MustParseAddr("10.20.30.40")},
		"mixed.example.com":    {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
	}
	r := &Reachability{TLS: &tls.Config{RootCAs: pool}, allowLoopback: true,
		LookupIP: func(_ context.Context, host string) ([]netip.Addr, error) {
			if a, ok := names[host]; ok {
				return a, nil
			}
			return nil, &netErr{host}
		}}
	return srv, r, "https://example.com:" + strconv.Itoa(int(port))
}

type netErr struct{ host string }

func (e *netErr) Error() string { return e.host + " does not resolve" }

func TestReachabilityPublishedReport(t *testing.T) {
	_, r, base := reportServer(t, func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/report.pdf":
			_, _ = w.Write([]byte("%PDF-1.7"))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("SECRET internal page"))
		}
	})
	ctx := context.Background()
	if err := r.Check(ctx, base+"/report.pdf"); err != nil {
		t.Fatalf("published report: %v", err)
	}
	err := r.Check(ctx, base+"/missing.pdf")
	if err == nil || err.Error() != "HTTP 404" {
		t.Fatalf("missing report: %v, want just HTTP 404 (the answer is never quoted)", err)
	}
	// the same server without the test's loopback exemption: loopback is never checked
	r.allowLoopback = false
	if err := r.Check(ctx, base+"/report.pdf"); err == nil || !strings.Contains(err.Error(), "never checked") {
		t.Fatalf("loopback: %v", err)
	}
}

// The SSRF attempts: plain http, literal internal addresses, names resolving to private,
// loopback or link-local addresses (or to a public and a loopback one), credentials in the
// URL; none is dialled (the test server counts what reaches it).
func TestReachabilityRefusesInternalTargets(t *testing.T) {
	var hits atomic.Int32
	_, r, base := reportServer(t, func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) })
	r.allowLoopback = false
	port := base[strings.LastIndex(base, ":"):]
	for u, want := range map[string]string{
		"http://example.com" + port + "/r.pdf":          "only https",
		"https://127.0.0.1" + port + "/":                "never checked",
		"https://[::1]" + port + "/":                    "never checked",
		"https://[::ffff:127.0.0.1]" + port + "/":       "never checked",
		"https://169.254.169.254/latest/meta-data/":     "never checked",
		"https://0.0.0.0" + port + "/":                  "never checked",
		"https://10.1.2.3/":                             "private address 10.1.2.3",
		"https://192.168.1.1/":                          "private address",
		"https://100.64.0.1/":                           "private address",
		"https://internal.example.com/r.pdf":            "private address 10.20.30.40",
		"https://mixed.example.com" + port + "/r.pdf":   "never checked",
		"https://example.com" + port + "/r.pdf":         "never checked",
		"https://user:pw@example.com" + port + "/r.pdf": "credentials",
	} {
		err := r.Check(context.Background(), u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", u, err, want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the loopback server", n)
	}
}

// Redirects are checked again: a published URL that redirects to http, to an internal
// address or to a name that resolves to one is not reachable, and nothing is sent there.
func TestReachabilityRechecksRedirects(t *testing.T) {
	var internal atomic.Int32
	_, r, base := reportServer(t, func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/to-http":
			http.Redirect(w, req, "http://example.com/report.pdf", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, req, "https://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/to-private":
			http.Redirect(w, req, "https://internal.example.com/report.pdf", http.StatusMovedPermanently)
		case "/to-report":
			http.Redirect(w, req, "/report.pdf", http.StatusFound)
		case "/report.pdf":
			_, _ = w.Write([]byte("%PDF"))
		default:
			internal.Add(1)
		}
	})
	ctx := context.Background()
	if err := r.Check(ctx, base+"/to-report"); err != nil {
		t.Fatalf("a redirect to the report itself: %v", err)
	}
	for path, want := range map[string]string{"/to-http": "only https", "/to-metadata": "never checked", "/to-private": "private address 10.20.30.40"} {
		if err := r.Check(ctx, base+path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
	if internal.Load() != 0 {
		t.Fatal("a redirect reached an unexpected path")
	}
}

// A policy may allow-list a host whose report server has a private address; loopback and
// link-local stay refused whatever the list says.
func TestReachabilityAllowList(t *testing.T) {
	r := &Reachability{AllowHosts: []string{"reports.corp.example"}}
	if err := r.allowed("reports.corp.example", netip.MustParseAddr("10.20.30.40")); err != nil {
		t.Fatalf("allow-listed private host: %v", err)
	}
	if err := r.allowed("other.corp.example", netip.MustParseAddr("10.20.30.40")); err == nil {
		t.Fatal("a private host not on the list was allowed")
	}
	for _, a := range []string{"127.0.0.1", "169.254.169.254", "fe80::1", "::1"} {
		if err := r.allowed("reports.corp.example", netip.MustParseAddr(a)); err == nil {
			t.Fatalf("the allow-list let %s through", a)
		}
	}
	if err := r.allowed("example.org", netip.MustParseAddr("93.184.216.34")); err != nil {
		t.Fatalf("public address: %v", err)
	}
}
