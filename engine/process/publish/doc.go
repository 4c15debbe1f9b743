// Package publish is medispatcher's HTTP publish API: POST /api/v1/messages
// puts one message into the main tube, POST /api/v1/messages/batch puts
// many, each exactly as a 2.x producer library puts it (the main-tube job
// of message.AppendMainJob, its body the msgpack form of the JSON body), so
// a subscriber cannot tell an HTTP-published message from one a msgpack
// producer sent.
//
// Package admin serves these routes beside its own, on ListenAddr, after
// its checks (Host, browser guards, Content-Type, bearer token); this
// package checks the request's size and shape, and answers with the admin
// API's error object {"error": {"code": "...", "message": "..."}}.
//
// When no beanstalkd server takes a message, it goes where a 2.x producer
// puts it then: a Redis recover list (MsgQueueFaultToleranceListNamePrefix
// + "publish", LPUSH like the producers, so the oldest entry stays at the
// right end the daemon's recover-list replayer drains first); the answer
// names the list. A message is never answered as taken unless beanstalkd
// or Redis holds it: with neither reachable the answer is 503.
//
// An Idempotency-Key header makes a request idempotent for
// PublishIdempotencySeconds: the first answer is kept in Redis and
// repeated, without publishing again, to any request with the same key and
// bearer token (idempotency.go).
//
// Files: handler.go (routing a request, the answers), decode.go (request
// bodies), put.go (the job, its put and the recover-list fallback),
// idempotency.go.
package publish

import (
	"context"
	"log/slog"

	"github.com/redis/rueidis"

	"medispatcher/connpool"
	"medispatcher/internal/config"
)

// Tracer traces publish requests; a nil Tracer traces nothing.
type Tracer interface {
	// StartPublish starts the span of one publish request (route is
	// "messages" or "messages/batch"), a child of the request's
	// traceparent header when it has a valid one. It returns the
	// traceparent (W3C, "00-<trace>-<span>-<flags>") of that span, for the
	// context of published messages that carry none, or "" when no span
	// was started; end finishes the span with the request's outcome.
	StartPublish(traceparent string, route string, messages int) (child string, end func(status int, err error))
}

// Routes, as Serve takes them: the path under /api/v1/.
const (
	RouteMessages = "messages"
	RouteBatch    = "messages/batch"
)

// Deps are what the API publishes with, built by the daemon.
type Deps struct {
	Config *config.Config
	Pool   *connpool.Pool
	// Redis returns the client once connected, waiting at most until ctx
	// ends; nil when Redis is not reached.
	Redis func(ctx context.Context) rueidis.Client
	// Tracer, when set, traces every request and gives messages without a
	// context the request span's traceparent as theirs.
	Tracer Tracer
	Log    *slog.Logger
}

// API serves the publish routes.
type API struct {
	d            Deps
	servers      []string // the pool's addresses, by index
	recoverList  string
	idemPrefix   string
	fallbackWarn warnEvery
}

// New returns the API.
func New(d Deps) *API {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Redis == nil {
		d.Redis = func(context.Context) rueidis.Client { return nil }
	}
	return &API{
		d:           d,
		servers:     d.Pool.Servers(),
		recoverList: d.Config.MsgQueueFaultToleranceListNamePrefix + "publish",
		idemPrefix:  idempotencyPrefix(d.Config.Redis.KeyPrefix),
	}
}

// RecoverList is the Redis list messages go to while no beanstalkd server
// takes them.
func (a *API) RecoverList() string { return a.recoverList }
