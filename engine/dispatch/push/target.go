package push

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"medispatcher/internal/redact"
)

// ErrBadURL wraps every reason a subscription URL cannot be pushed to.
var ErrBadURL = errors.New("bad subscription URL")

// maxTargets bounds the URL cache: URLs come from subscriptions and change
// rarely, but a live URL edit adds an entry, so the cache is dropped and
// rebuilt when it grows past this, and with it the host clients no URL
// left in it uses: neither grows without bound over many distinct URLs or
// hosts.
const maxTargets = 4096

// target is a subscription URL prepared once: the host client for its
// scheme and host, and the URL as the old daemon sent it, up to where
// "jobid=" follows.
type target struct {
	hc      *fasthttp.HostClient
	hostKey string // hc's key in targets.hosts
	prefix  []byte
}

// targets maps URLs to prepared targets and scheme+host to host clients.
// Lookups read an immutable map through an atomic pointer (no lock on the
// hot path); a miss builds a new map under mu (copy on write).
type targets struct {
	urls  atomic.Pointer[map[string]*target]
	mu    sync.Mutex
	hosts map[string]*fasthttp.HostClient // guarded by mu
	newHC func(addr string, isTLS bool) *fasthttp.HostClient
	max   int // entries before the URL cache is dropped; maxTargets
}

func (ts *targets) get(rawURL string) (*target, error) {
	if m := ts.urls.Load(); m != nil {
		if t := (*m)[rawURL]; t != nil {
			return t, nil
		}
	}
	return ts.add(rawURL)
}

func (ts *targets) add(rawURL string) (*target, error) {
	hostKey, addr, isTLS, prefix, err := prepareURL(rawURL)
	if err != nil {
		return nil, err
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	old := ts.urls.Load()
	if old != nil {
		if t := (*old)[rawURL]; t != nil {
			return t, nil
		}
	}
	if ts.hosts == nil {
		ts.hosts = make(map[string]*fasthttp.HostClient)
	}
	hc := ts.hosts[hostKey]
	if hc == nil {
		hc = ts.newHC(addr, isTLS)
		ts.hosts[hostKey] = hc
	}
	t := &target{hc: hc, hostKey: hostKey, prefix: prefix}
	m := make(map[string]*target, 1)
	dropped := old != nil && len(*old) >= ts.max
	if old != nil && !dropped {
		m = make(map[string]*target, len(*old)+1)
		for k, v := range *old {
			m[k] = v
		}
	}
	m[rawURL] = t
	ts.urls.Store(&m)
	if dropped {
		ts.pruneHosts(m)
	}
	return t, nil
}

// forget drops urls from the cache, then the host clients no URL left in
// it uses.
func (ts *targets) forget(urls []string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	old := ts.urls.Load()
	if old == nil {
		return
	}
	drop := 0
	for _, u := range urls {
		if (*old)[u] != nil {
			drop++
		}
	}
	if drop == 0 {
		return
	}
	m := make(map[string]*target, len(*old)-drop)
	for k, v := range *old {
		m[k] = v
	}
	for _, u := range urls {
		delete(m, u)
	}
	ts.urls.Store(&m)
	ts.pruneHosts(m)
}

// pruneHosts keeps the host clients the URLs of m use and closes the idle
// connections of the others; a push already holding one finishes on it.
// ts.mu must be held.
func (ts *targets) pruneHosts(m map[string]*target) {
	used := make(map[string]bool, len(ts.hosts))
	for _, t := range m {
		used[t.hostKey] = true
	}
	for k, hc := range ts.hosts {
		if !used[k] {
			delete(ts.hosts, k)
			hc.CloseIdleConnections()
		}
	}
}

// hostCount is the number of host clients kept.
func (ts *targets) hostCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.hosts)
}

// closeIdle closes the idle connections of every host client.
func (ts *targets) closeIdle() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, hc := range ts.hosts {
		hc.CloseIdleConnections()
	}
}

// prepareURL does once per URL what the old daemon did per push:
// url.Parse, then RawQuery += "jobid=…" (after '&' when RawQuery was not
// empty), String(), and net/http's request line from the re-parsed URL
// (EscapedPath, "/" when empty, '?', RawQuery; the fragment is not sent).
// prefix is the absolute URL fasthttp is given, ending where "jobid="
// follows; hostKey names the host client (scheme and host); addr is the
// host with its default port.
func prepareURL(rawURL string) (hostKey, addr string, isTLS bool, prefix []byte, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the URL: keep its reason, mask its userinfo.
		return "", "", false, nil, fmt.Errorf("%w: %s", ErrBadURL, redact.URL(err.Error()))
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
	case "https":
		isTLS = true
	default:
		return "", "", false, nil, fmt.Errorf("%w: %q: scheme must be http or https", ErrBadURL, redact.URL(rawURL))
	}
	if u.Host == "" || u.Opaque != "" {
		return "", "", false, nil, fmt.Errorf("%w: %q: no host", ErrBadURL, redact.URL(rawURL))
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if isTLS {
			port = "443"
		}
	}
	addr = net.JoinHostPort(u.Hostname(), port)
	scheme := "http://"
	if isTLS {
		scheme = "https://"
	}
	hostKey = scheme + u.Host
	// Round-trip through String and Parse as the old client did (String
	// then http.NewRequest), so the path escaping is the one it sent.
	u2, err := url.Parse(u.String())
	if err != nil {
		// url.Error quotes the URL: keep its reason, mask its userinfo.
		return "", "", false, nil, fmt.Errorf("%w: %s", ErrBadURL, redact.URL(err.Error()))
	}
	path := u2.EscapedPath()
	if path == "" {
		path = "/"
	}
	prefix = make([]byte, 0, len(hostKey)+len(path)+len(u2.RawQuery)+64)
	prefix = append(prefix, scheme...)
	if u2.User != nil {
		// net/http turned userinfo into Basic authorization; fasthttp
		// does the same from the URL it is given.
		prefix = append(prefix, u2.User.String()...)
		prefix = append(prefix, '@')
	}
	prefix = append(prefix, u2.Host...)
	prefix = append(prefix, path...)
	prefix = append(prefix, '?')
	if u2.RawQuery != "" {
		prefix = append(prefix, u2.RawQuery...)
		prefix = append(prefix, '&')
	}
	return hostKey, addr, isTLS, prefix, nil
}
