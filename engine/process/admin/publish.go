package admin

import (
	"crypto/subtle"
	"strings"

	"github.com/valyala/fasthttp"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/config"
)

// Publisher serves the HTTP publish API's routes (package publish):
// route is "messages" or "messages/batch", token the bearer token that
// authorized the request (empty when none was needed).
type Publisher interface {
	Serve(ctx *fasthttp.RequestCtx, route string, token []byte)
}

// publishRoute returns the publish route of an /api/v1/ path.
func publishRoute(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/api/v1/")
	if !ok {
		return "", false
	}
	switch r := strings.Trim(rest, "/"); r {
	case "messages", "messages/batch":
		return r, true
	}
	return "", false
}

// caller is who sent a request, by its bearer token.
type caller int

const (
	callerUnknown   caller = iota // no token, or a wrong one
	callerAdmin                   // the AdminToken
	callerPublisher               // one of PublishTokens: may publish only
)

// tokens are the bearer tokens the API knows.
type tokens struct {
	admin   []byte
	publish [][]byte
}

func newTokens(cfg *config.Config) tokens {
	t := tokens{admin: []byte(cfg.AdminToken)}
	for _, p := range cfg.PublishTokens {
		t.publish = append(t.publish, []byte(p))
	}
	return t
}

// none reports whether no token is configured: then the API (which the
// daemon serves on loopback only in that case) needs none.
func (t tokens) none() bool { return len(t.admin) == 0 && len(t.publish) == 0 }

// identify returns who the request's bearer token belongs to, and the
// token. Every known token is compared, in constant time, so the time
// taken does not tell which one was close.
func (t tokens) identify(ctx *fasthttp.RequestCtx) (caller, []byte) {
	h := ctx.Request.Header.Peek("Authorization")
	const bearer = "Bearer "
	if len(h) <= len(bearer) || !strings.EqualFold(string(h[:len(bearer)]), bearer) {
		return callerUnknown, nil
	}
	got := h[len(bearer):]
	who := callerUnknown
	if len(t.admin) > 0 && subtle.ConstantTimeCompare(got, t.admin) == 1 {
		who = callerAdmin
	}
	for _, p := range t.publish {
		if subtle.ConstantTimeCompare(got, p) == 1 && who == callerUnknown {
			who = callerPublisher
		}
	}
	return who, got
}

// authorize decides a request to an /api/v1/ route and writes the refusal
// (401 without a known token, 403 for a publish token off the publish
// routes). It returns the token to scope the request's idempotency by.
//
// The publish routes need the AdminToken or a publish token once either is
// configured. The other routes keep their rule: the AdminToken when one is
// set, nothing otherwise; a publish token is never enough for them.
func (a *API) authorize(ctx *fasthttp.RequestCtx, publishing bool) ([]byte, bool) {
	if a.tokens.none() {
		return nil, true
	}
	who, tok := a.tokens.identify(ctx)
	switch {
	case who == callerPublisher && !publishing:
		a.fail(ctx, errf(fasthttp.StatusForbidden, CodeForbidden, "a publish token may only publish (POST /api/v1/messages, /api/v1/messages/batch)"))
		return nil, false
	case who != callerUnknown:
		return tok, true
	case !publishing && len(a.tokens.admin) == 0:
		return nil, true
	}
	ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="medispatcher"`)
	a.fail(ctx, errf(fasthttp.StatusUnauthorized, CodeUnauthorized, "missing or wrong bearer token"))
	return nil, false
}

// bodyLimit bounds the body of a request to uri: PublishMaxBodyBytes on
// the publish routes, adminapi.MaxBody elsewhere.
func (a *API) bodyLimit(uri []byte) int {
	u := fasthttp.AcquireURI()
	defer fasthttp.ReleaseURI(u)
	if u.Parse(nil, uri) == nil {
		if _, ok := publishRoute(string(u.Path())); ok {
			return a.d.Config.PublishMaxBodyBytes
		}
	}
	return adminapi.MaxBody
}

// servePublish hands a publish request to the Publisher.
func (a *API) servePublish(ctx *fasthttp.RequestCtx, route string, token []byte) {
	if a.d.Publish == nil {
		a.fail(ctx, errf(fasthttp.StatusServiceUnavailable, CodeUnavailable, "the publish API is not served by this process"))
		return
	}
	a.d.Publish.Serve(ctx, route, token)
}
