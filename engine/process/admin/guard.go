package admin

import (
	"bytes"
	"net"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"medispatcher/internal/config"
)

// Error codes of the browser guards (see guard).
const (
	// CodeHostNotAllowed: the Host header names neither the listener nor
	// an AdminAllowedHosts entry (421; a DNS-rebinding page).
	CodeHostNotAllowed = "host_not_allowed"
	// CodeCrossSite: the request comes from another site's page
	// (Sec-Fetch-Site cross-site or same-site, or a foreign Origin; 403).
	CodeCrossSite = "cross_site"
	// CodeUnsupportedMediaType: a write without Content-Type
	// application/json (415).
	CodeUnsupportedMediaType = "unsupported_media_type"
)

// hosts are the Host header values the API answers to.
type hosts struct {
	exact   map[string]bool // "host:port", lower case
	anyPort map[string]bool // hosts of AdminAllowedHosts entries without a port
}

// allowedHosts are ListenAddr as written, the loopback names with its
// port, and AdminAllowedHosts (an entry without a port matches any port,
// and a Host header without one).
func allowedHosts(cfg *config.Config) hosts {
	h := hosts{exact: map[string]bool{}, anyPort: map[string]bool{}}
	if host, port, err := net.SplitHostPort(cfg.ListenAddr); err == nil {
		if host != "" {
			h.exact[strings.ToLower(net.JoinHostPort(host, port))] = true
		}
		for _, lo := range []string{"localhost", "127.0.0.1", "::1"} {
			h.exact[net.JoinHostPort(lo, port)] = true
		}
	}
	for _, e := range cfg.AdminAllowedHosts {
		e = strings.ToLower(strings.TrimSpace(e))
		if host, port, err := net.SplitHostPort(e); err == nil {
			h.exact[net.JoinHostPort(host, port)] = true
		} else {
			h.anyPort[strings.Trim(e, "[]")] = true
		}
	}
	return h
}

// allows reports whether hostport (a Host header, or an Origin's host)
// is one the API answers to.
func (h hosts) allows(hostport string) bool {
	hp := strings.ToLower(hostport)
	if hp == "" {
		return false
	}
	if h.exact[hp] {
		return true
	}
	host := hp
	if hh, _, err := net.SplitHostPort(hp); err == nil {
		host = hh
	}
	return h.anyPort[strings.Trim(host, "[]")]
}

// guard refuses what a web page in a browser could send: a Host header
// the API does not answer to (DNS rebinding), and, on /api/, a request
// from another site's page or a write that is not JSON (a form or a
// no-cors fetch cannot send application/json). It writes the refusal and
// returns false.
//
// The rules: Host must be allowed (every path but /healthz, which load
// balancers probe by address). On /api/: Sec-Fetch-Site, when sent, must
// be "same-origin" or "none" ("same-site" is refused too: another host of
// the same site is another application); Origin, when sent, must name an
// allowed host. A POST, PUT, PATCH or DELETE must carry Content-Type
// application/json, except a DELETE without a body. Clients that are not
// browsers (medictl, curl) send neither Sec-Fetch-Site nor Origin.
func (a *API) guard(ctx *fasthttp.RequestCtx, path string) bool {
	if path != "/healthz" && !a.hosts.allows(string(ctx.Request.Header.Host())) {
		a.fail(ctx, errf(fasthttp.StatusMisdirectedRequest, CodeHostNotAllowed,
			"Host %q is not this API's: use its ListenAddr or a loopback name, or add the name to AdminAllowedHosts", ctx.Request.Header.Host()))
		return false
	}
	if !strings.HasPrefix(path, "/api/") {
		return true
	}
	switch site := string(ctx.Request.Header.Peek("Sec-Fetch-Site")); site {
	case "", "same-origin", "none":
	default:
		a.fail(ctx, errf(fasthttp.StatusForbidden, CodeCrossSite, "Sec-Fetch-Site %q: the API answers its own status page only", site))
		return false
	}
	if o := ctx.Request.Header.Peek("Origin"); len(o) > 0 {
		u, err := url.Parse(string(o))
		if err != nil || u.Host == "" || !a.hosts.allows(u.Host) {
			a.fail(ctx, errf(fasthttp.StatusForbidden, CodeCrossSite, "Origin %q is not this API's", o))
			return false
		}
	}
	return true
}

// jsonWrite refuses a write whose body is not declared JSON.
func (a *API) jsonWrite(ctx *fasthttp.RequestCtx) bool {
	switch string(ctx.Method()) {
	case fasthttp.MethodPost, fasthttp.MethodPut, fasthttp.MethodPatch, fasthttp.MethodDelete:
	default:
		return true
	}
	ct := ctx.Request.Header.ContentType()
	if len(ct) == 0 && ctx.IsDelete() && len(ctx.PostBody()) == 0 {
		return true
	}
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if !strings.EqualFold(string(bytes.TrimSpace(ct)), "application/json") {
		a.fail(ctx, errf(fasthttp.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"%s needs Content-Type application/json, got %q", ctx.Method(), ctx.Request.Header.ContentType()))
		return false
	}
	return true
}
