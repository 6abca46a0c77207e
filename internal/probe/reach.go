package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Reachability answers whether a URL that evidence names (an audit report's reportURL) is
// published: an https GET that answers 2xx. A report names the URL, so the worker must not
// become a way into its own network: only https, only to public addresses (checked on the
// addresses actually dialled, so DNS cannot swap one in after the check), each redirect checked
// again, and never loopback, link-local (cloud metadata), unspecified or multicast addresses.
// Hosts the policy allow-lists may resolve to private ranges (an internal report server). The
// answer's body is never read, so no error can quote it.
type Reachability struct {
	// AllowHosts are host names whose private addresses (RFC 1918, unique local) are allowed.
	AllowHosts []string
	// LookupIP resolves a host; nil: the system resolver.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
	// TLS is the client's TLS configuration (tests trust their own CA); nil: the system's.
	TLS *tls.Config
	// Timeout bounds one check, redirects included; 0: 15 s.
	Timeout time.Duration

	// allowLoopback lets the package's tests reach their servers on 127.0.0.1.
	allowLoopback bool
}

const maxRedirects = 5

// Check GETs u and reports why it is not reachable, or nil.
func (r *Reachability) Check(ctx context.Context, u string) error {
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := r.checkURL(u); err != nil {
		return err
	}
	client := &http.Client{
		Transport: &http.Transport{DialContext: r.dial, TLSClientConfig: r.TLS, Proxy: nil,
			TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: 10 * time.Second},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			return r.checkURL(req.URL.String())
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return errors.New("not a valid URL")
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is named by the caller already
		}
		return err
	}
	resp.Body.Close() // never read: the answer is not ours to quote
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// checkURL refuses a URL that is not https or whose host is a literal address not allowed.
func (r *Reachability) checkURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return errors.New("not a valid URL")
	}
	if p.Scheme != "https" {
		return fmt.Errorf("only https URLs are checked (got %s)", p.Scheme)
	}
	if p.User != nil {
		return errors.New("a URL with credentials is not checked")
	}
	if a, err := netip.ParseAddr(strings.Trim(p.Hostname(), "[]")); err == nil {
		return r.allowed(p.Hostname(), a)
	}
	return nil
}

// allowed says whether host's address a may be dialled.
func (r *Reachability) allowed(host string, a netip.Addr) error {
	a = a.Unmap()
	switch {
	case a.IsLoopback() && r.allowLoopback:
		return nil
	case a.IsLoopback(), a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(), a.IsUnspecified(), a.IsMulticast(),
		a.IsInterfaceLocalMulticast(), !a.IsValid():
		return fmt.Errorf("%s resolves to %s, which is never checked (loopback, link-local or not unicast)", host, a)
	case a.IsPrivate() || isSpecialPurpose(a):
		for _, h := range r.AllowHosts {
			if strings.EqualFold(h, host) {
				return nil
			}
		}
		return fmt.Errorf("%s resolves to the private address %s; the policy does not allow-list it (allowHosts)", host, a)
	}
	return nil
}

// isSpecialPurpose: shared address space (100.64/10, carrier-grade NAT), benchmarking
// (198.18/15) and the documentation and reserved ranges are not the public internet either.
func isSpecialPurpose(a netip.Addr) bool {
	for _, p := range specialPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var specialPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("64:ff9b::/96"),
}

// dial resolves the host itself, checks every address, and connects to a checked one.
func (r *Reachability) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if r.LookupIP != nil {
		addrs, err = r.LookupIP(ctx, host)
		if err != nil {
			return nil, err
		}
	} else {
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("%s does not resolve", host)
		}
		addrs = ips
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s does not resolve", host)
	}
	for _, a := range addrs { // every address must be allowed: no picking the public one
		if err := r.allowed(host, a); err != nil {
			return nil, err
		}
	}
	var d net.Dialer
	var last error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, netip.AddrPortFrom(a.Unmap(), mustPort(port)).String())
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

func mustPort(p string) uint16 {
	var n uint16
	_, _ = fmt.Sscanf(p, "%d", &n)
	return n
}
