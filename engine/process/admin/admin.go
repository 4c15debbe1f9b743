// Package admin is medispatcher's admin HTTP API (JSON over fasthttp on
// ListenAddr), the successor of the old daemon's control interface: it
// lists and changes subscriptions and their parameters, shows defaults,
// changes the global alert settings, cleans a subscription's queue, kicks
// buried jobs, queries and re-sends failure records, shows the recover
// lists, push statistics and an overview for the status page, which it
// also serves.
//
// Every /api/ route needs "Authorization: Bearer <AdminToken>" when a
// token is configured (compared in constant time); the daemon does not
// serve this API beyond loopback without one. The HTTP publish API
// (package publish) is mounted here too, on /api/v1/messages and
// /api/v1/messages/batch: those also take one of PublishTokens, which
// opens nothing else (publish.go). No web page can drive it
// from a browser (guard.go): the Host header must name the API, requests
// from other sites are refused and writes must be JSON. Errors are JSON
// objects {"error": {"code": "...", "message": "..."}} with stable codes. The
// routes are described in openapi.yaml beside this file; the bodies they
// take and answer are the types of package adminapi, which clients decode
// without linking the engine.
//
// Nothing here sits on the message path: handlers read snapshots the
// engine, the statistics and the backlog sampler keep anyway.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/alert"
	"medispatcher/engine/observe/backlog"
	"medispatcher/engine/observe/stats"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/ops/amend"
	"medispatcher/engine/ops/clean"
	"medispatcher/engine/process/statuspage"
	"medispatcher/internal/config"
)

// Deps are what the API reads and acts on, built by the daemon.
type Deps struct {
	Config  *config.Config
	Started time.Time
	Engine  *dispatch.Engine
	Pool    *connpool.Pool
	Stats   *stats.Stats
	Alerts  *alert.Monitor
	Backlog *backlog.Sampler
	// Redis returns the client once connected, waiting at most until ctx
	// ends; nil when Redis was not reached (routes that need it answer
	// 503).
	Redis    func(ctx context.Context) rueidis.Client
	Drop     clean.DropLog
	KickFail amend.KickFailer
	Log      *slog.Logger
	// Panel writes subscriptions into the 2.x tables when
	// SubscriptionSource is "mysql", on the daemon's one database pool;
	// nil: writes answer 503.
	Panel PanelWriter
	// Publish serves POST /api/v1/messages and /api/v1/messages/batch;
	// nil: they answer 503.
	Publish Publisher
}

// API serves the routes.
type API struct {
	d      Deps
	token  []byte // the AdminToken
	tokens tokens
	hosts  hosts
	page   fasthttp.RequestHandler
}

// New returns the API; the daemon mounts Handler on ListenAddr.
func New(d Deps) *API {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Redis == nil {
		d.Redis = func(context.Context) rueidis.Client { return nil }
	}
	return &API{d: d, token: []byte(d.Config.AdminToken), tokens: newTokens(d.Config), hosts: allowedHosts(d.Config), page: statuspage.Handler()}
}

// Server returns a fasthttp server for the API with its request limits.
func (a *API) Server() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:            a.Handler,
		Name:               "medispatcher",
		MaxRequestBodySize: adminapi.MaxBody,
		// The publish routes take larger bodies (PublishMaxBodyBytes).
		HeaderReceived: func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{MaxRequestBodySize: a.bodyLimit(h.RequestURI())}
		},
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 60 * time.Second,
		IdleTimeout:  2 * time.Minute,
		// Browsers keep connections to the status page open: a stop must
		// not wait for them.
		CloseOnShutdown: true,
		// Requests fasthttp refuses before a handler runs get JSON errors too.
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				a.fail(ctx, errf(fasthttp.StatusRequestEntityTooLarge, CodeTooLarge, "request body above %d bytes", a.bodyLimit(ctx.Request.Header.RequestURI())))
				return
			}
			a.fail(ctx, errf(fasthttp.StatusBadRequest, CodeBadRequest, "%v", err))
		},
	}
}

// Error codes: stable, clients branch on them.
const (
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeBadRequest       = "bad_request"
	CodeInvalid          = "invalid"
	CodeConflict         = "conflict"
	CodeReadOnlySource   = "read_only_source"
	CodeUnavailable      = "unavailable"
	CodeTooLarge         = "too_large"
	CodeInternal         = "internal"
)

// apiError is an error with its HTTP status; its JSON is the Problem
// alone.
type apiError struct {
	Status int `json:"-"`
	adminapi.Problem
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Problem: adminapi.Problem{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// Handler routes a request.
func (a *API) Handler(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if !a.guard(ctx, path) {
		return
	}
	switch {
	case path == "/" || path == "/status" || path == "/status/":
		a.page(ctx)
		return
	case path == "/healthz":
		a.reply(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
		return
	case !strings.HasPrefix(path, "/api/v1/"):
		a.fail(ctx, errf(fasthttp.StatusNotFound, CodeNotFound, "no route %s; the API is under /api/v1/", path))
		return
	}
	pub, publishing := publishRoute(path)
	tok, ok := a.authorize(ctx, publishing)
	if !ok || !a.jsonWrite(ctx) {
		return
	}
	if publishing {
		a.servePublish(ctx, pub, tok)
		return
	}
	if len(ctx.PostBody()) > adminapi.MaxBody {
		a.fail(ctx, errf(fasthttp.StatusRequestEntityTooLarge, CodeTooLarge, "request body above %d bytes", adminapi.MaxBody))
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(path, "/api/v1/"), "/"), "/")
	res, err := a.route(ctx, string(ctx.Method()), parts)
	if err == errHandled {
		return
	}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			a.d.Log.Error("admin API", "method", string(ctx.Method()), "path", path, "err", err)
			ae = errf(fasthttp.StatusInternalServerError, CodeInternal, "%v", err)
		}
		a.fail(ctx, ae)
		return
	}
	status := fasthttp.StatusOK
	if c, ok := res.(created); ok {
		status, res = fasthttp.StatusCreated, c.v
	}
	a.reply(ctx, status, res)
}

// created marks a result answered with 201.
type created struct{ v any }

type route struct {
	method string
	// pattern: segments, "{id}" matches a subscription id.
	pattern []string
	h       func(ctx *fasthttp.RequestCtx, id int64) (any, error)
}

func (a *API) routes() []route {
	return []route{
		{"GET", []string{"info"}, a.info},
		{"GET", []string{"overview"}, a.overview},
		{"GET", []string{"stats"}, a.stats},
		{"GET", []string{"defaults"}, a.defaults},
		{"GET", []string{"subscriptions"}, a.listSubs},
		{"POST", []string{"subscriptions"}, a.createSub},
		{"GET", []string{"subscriptions", "{id}"}, a.getSub},
		{"PUT", []string{"subscriptions", "{id}"}, a.replaceSub},
		{"PATCH", []string{"subscriptions", "{id}"}, a.patchSub},
		{"DELETE", []string{"subscriptions", "{id}"}, a.deleteSub},
		{"POST", []string{"subscriptions", "{id}", "clean"}, a.cleanSub},
		{"POST", []string{"kick"}, a.kick},
		{"GET", []string{"failures"}, a.listFailures},
		{"POST", []string{"failures", "resend"}, a.resend},
		{"GET", []string{"recover"}, a.recoverStatus},
		{"GET", []string{"alerts"}, a.recentAlerts},
		{"GET", []string{"alerts", "settings"}, a.alertSettings},
		{"PUT", []string{"alerts", "settings"}, a.setAlertSettings},
	}
}

func (a *API) route(ctx *fasthttp.RequestCtx, method string, parts []string) (any, error) {
	pathFound := false
	for _, r := range a.routes() {
		id, ok, err := match(r.pattern, parts)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		pathFound = true
		if r.method == method {
			return r.h(ctx, id)
		}
	}
	if pathFound {
		return nil, errf(fasthttp.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s not allowed here", method)
	}
	return nil, errf(fasthttp.StatusNotFound, CodeNotFound, "no route /api/v1/%s", strings.Join(parts, "/"))
}

func match(pattern, parts []string) (id int64, ok bool, err error) {
	if len(pattern) != len(parts) {
		return 0, false, nil
	}
	for i, p := range pattern {
		if p == "{id}" {
			continue
		}
		if p != parts[i] {
			return 0, false, nil
		}
	}
	for i, p := range pattern {
		if p == "{id}" {
			id, err = strconv.ParseInt(parts[i], 10, 64)
			if err != nil || id <= 0 {
				return 0, false, errf(fasthttp.StatusBadRequest, CodeBadRequest, "subscription id %q: must be a positive integer", parts[i])
			}
		}
	}
	return id, true, nil
}

func (a *API) reply(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	enc := json.NewEncoder(ctx)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		a.d.Log.Error("admin API: encode answer", "err", err)
	}
}

func (a *API) fail(ctx *fasthttp.RequestCtx, e *apiError) {
	a.reply(ctx, e.Status, map[string]*apiError{"error": e})
}

// decode reads a JSON body into v, refusing unknown fields so a typo in a
// parameter name is an error, not a silent no-op.
func decode(ctx *fasthttp.RequestCtx, v any) error {
	body := ctx.PostBody()
	if len(body) == 0 {
		return errf(fasthttp.StatusBadRequest, CodeBadRequest, "a JSON body is required")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errf(fasthttp.StatusBadRequest, CodeBadRequest, "body: %v", err)
	}
	// Anything after the value — another value, or a stray ] or } that
	// More would not see — is refused.
	if _, err := dec.Token(); err != io.EOF {
		return errf(fasthttp.StatusBadRequest, CodeBadRequest, "body: more than one JSON value")
	}
	return nil
}

// redisWait bounds the wait for a Redis connection being made.
const redisWait = 3 * time.Second

// requireRedis returns the Redis client or a 503.
func (a *API) requireRedis() (rueidis.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), redisWait)
	defer cancel()
	c := a.d.Redis(ctx)
	if c == nil {
		return nil, errf(fasthttp.StatusServiceUnavailable, CodeUnavailable, "Redis %s is not connected", a.d.Config.Redis.Addr)
	}
	return c, nil
}

// subOr404 returns the live subscription id.
func (a *API) subOr404(id int64) (*subs.Subscription, error) {
	s := a.d.Engine.Subscriptions().ByID(id)
	if s == nil {
		return nil, errf(fasthttp.StatusNotFound, CodeNotFound, "no subscription %d", id)
	}
	return s, nil
}
