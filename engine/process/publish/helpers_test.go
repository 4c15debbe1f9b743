package publish

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/config"
	"medispatcher/internal/testsrv"
)

// env is a publish API against real beanstalkd and Redis servers.
type env struct {
	t     *testing.T
	bs    *testsrv.Server
	rd    *testsrv.Server
	cfg   *config.Config
	pool  *connpool.Pool
	redis rueidis.Client
	bc    *beanstalk.Conn
	api   *API
}

func newEnv(t *testing.T, opts ...testsrv.Option) *env {
	t.Helper()
	e := &env{t: t, bs: testsrv.StartBeanstalkd(t, opts...), rd: testsrv.StartRedis(t)}
	e.cfg = config.Default()
	e.cfg.QueueServerAddr = e.bs.Addr
	e.cfg.Redis.Addr = e.rd.Addr
	var err error
	e.pool, err = connpool.New(context.Background(), connpool.Config{Addrs: []string{e.bs.Addr}, OpTimeout: 2 * time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.pool.Close() })
	e.redis, err = rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{e.rd.Addr}, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(e.redis.Close)
	e.bc, err = beanstalk.Dial("tcp", e.bs.Addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.bc.Close() })
	e.build(nil)
	return e
}

// build (re)makes the API with the current config and tracer.
func (e *env) build(tr Tracer) {
	e.api = New(Deps{Config: e.cfg, Pool: e.pool, Redis: func(context.Context) rueidis.Client { return e.redis },
		Tracer: tr, Log: slog.New(slog.DiscardHandler)})
}

// reply is an answer of the API.
type reply struct {
	status int
	body   []byte
	replay string
}

func (r reply) problem(t *testing.T) adminapi.Problem {
	t.Helper()
	var a adminapi.ErrorAnswer
	require.NoError(t, json.Unmarshal(r.body, &a), "%s", r.body)
	require.NotNil(t, a.Error, "%s", r.body)
	return *a.Error
}

func (r reply) result(t *testing.T) adminapi.PublishResult {
	t.Helper()
	var res adminapi.PublishResult
	require.NoError(t, json.Unmarshal(r.body, &res), "%s", r.body)
	return res
}

func (r reply) batch(t *testing.T) []adminapi.PublishResult {
	t.Helper()
	var res adminapi.PublishBatchResult
	require.NoError(t, json.Unmarshal(r.body, &res), "%s", r.body)
	return res.Results
}

// serve runs one request through Serve; headers are name, value pairs.
func (e *env) serve(route, token, body string, headers ...string) reply {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.Header.SetContentType("application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	ctx.Request.SetBodyString(body)
	e.api.Serve(&ctx, route, []byte(token))
	return reply{status: ctx.Response.StatusCode(), body: append([]byte(nil), ctx.Response.Body()...),
		replay: string(ctx.Response.Header.Peek(adminapi.ReplayHeader))}
}

// job returns the main-tube job id, decoded, with its keys.
func (e *env) job(id uint64) (raw []byte, m message.Message, keys []string) {
	e.t.Helper()
	raw, err := e.bc.Peek(id)
	require.NoError(e.t, err)
	require.NoError(e.t, message.Decode(raw, &m))
	keys, err = message.MapKeys(raw)
	require.NoError(e.t, err)
	return raw, m, keys
}

// bodyJSON is the body subscribers receive for a decoded message.
func bodyJSON(t *testing.T, m message.Message) string {
	t.Helper()
	out, err := message.AppendJSON(nil, m.Body)
	require.NoError(t, err)
	return string(out)
}

// mainJobs is the number of jobs put into the main tube.
func (e *env) mainJobs() int {
	e.t.Helper()
	st, err := (&beanstalk.Tube{Conn: e.bc, Name: e.cfg.NameOfMainQueue}).Stats()
	if err != nil {
		return 0 // the tube does not exist yet
	}
	var n int
	require.NoError(e.t, json.Unmarshal([]byte(st["total-jobs"]), &n))
	return n
}
