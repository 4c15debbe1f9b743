package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/testsrv"
)

func TestPublishPutsTheProducersJob(t *testing.T) {
	e := newEnv(t)
	before := float64(time.Now().UnixNano()) / 1e9
	r := e.serve(RouteMessages, "", `{"topic":"order.paid","body":{"id":7,"amount":12.5,"tags":["a","<b>"],"x":null},"sender":"shop"}`)
	require.Equal(t, 202, r.status, "%s", r.body)
	res := r.result(t)
	require.NotZero(t, res.JobID)
	assert.Equal(t, e.bs.Addr, res.Server)
	assert.Empty(t, res.RecoverList)

	_, m, keys := e.job(res.JobID)
	assert.Equal(t, []string{"msgKey", "body", "sender", "time"}, keys, "a 2.x producer's keys, nothing more")
	assert.Equal(t, "order.paid", string(m.Topic))
	assert.Equal(t, "shop", string(m.Sender))
	assert.Equal(t, `{"amount":12.5,"id":7,"tags":["a","\u003cb\u003e"],"x":null}`, bodyJSON(t, m))
	assert.GreaterOrEqual(t, m.Time, before)
	assert.LessOrEqual(t, m.Time, float64(time.Now().UnixNano())/1e9)

	st, err := e.bc.StatsJob(res.JobID)
	require.NoError(t, err)
	assert.Equal(t, "1024", st["pri"])
	assert.Equal(t, "60", st["ttr"])
	assert.Equal(t, "ready", st["state"])
}

func TestPublishPriorityDelayContexts(t *testing.T) {
	e := newEnv(t)
	r := e.serve(RouteMessages, "", `{"topic":"t","body":"x","priority":5,"delay":30,"context":"ctx","owl_context":"owl"}`)
	require.Equal(t, 202, r.status, "%s", r.body)
	id := r.result(t).JobID
	_, m, keys := e.job(id)
	assert.Equal(t, []string{"msgKey", "body", "sender", "time", "priority", "delay", "context", "owl_context"}, keys)
	assert.Equal(t, uint32(5), m.Priority)
	assert.Equal(t, uint32(30), m.Delay)
	assert.Equal(t, "ctx", string(m.Context))
	assert.Equal(t, "owl", string(m.OwlContext))
	assert.Equal(t, "", string(m.Sender))
	st, err := e.bc.StatsJob(id)
	require.NoError(t, err)
	assert.Equal(t, "5", st["pri"])
	assert.Equal(t, "delayed", st["state"])
	assert.Equal(t, "30", st["delay"])
}

func TestPublishBatchKeepsOrderAndErrors(t *testing.T) {
	e := newEnv(t)
	var msgs []string
	for i := range 40 {
		if i == 3 {
			msgs = append(msgs, `{"body":1}`)
			continue
		}
		msgs = append(msgs, fmt.Sprintf(`{"topic":"t","body":{"n":%d}}`, i))
	}
	r := e.serve(RouteBatch, "", `{"messages":[`+strings.Join(msgs, ",")+`]}`)
	require.Equal(t, 200, r.status, "%s", r.body)
	res := r.batch(t)
	require.Len(t, res, 40)
	for i, x := range res {
		if i == 3 {
			require.NotNil(t, x.Error)
			assert.Equal(t, "invalid", x.Error.Code)
			assert.Contains(t, x.Error.Message, "messages[3]: topic is required")
			assert.Zero(t, x.JobID)
			continue
		}
		require.Nil(t, x.Error, "message %d", i)
		_, m, _ := e.job(x.JobID)
		assert.Equal(t, fmt.Sprintf(`{"n":%d}`, i), bodyJSON(t, m), "result %d is message %d's", i, i)
	}
	assert.Equal(t, 39, e.mainJobs())
}

func TestPublishRefusesBadInput(t *testing.T) {
	e := newEnv(t, testsrv.WithMaxJobSize(2048))
	e.cfg.PublishMaxBatch = 2
	e.cfg.PublishMaxBodyBytes = 4096
	e.build(nil)
	for _, tc := range []struct {
		route, body string
		status      int
		code, msg   string
	}{
		{RouteMessages, `{"topic":`, 400, "bad_request", "not JSON"},
		{RouteMessages, ``, 400, "bad_request", "not JSON"},
		{RouteMessages, `{"topic":"t","body":1} {}`, 400, "bad_request", "more than one"},
		{RouteMessages, `[1]`, 422, "invalid", "cannot unmarshal"},
		{RouteMessages, `{"topic":"t","body":1,"prority":3}`, 422, "invalid", "unknown field"},
		{RouteMessages, `{"body":1}`, 422, "invalid", "topic is required"},
		{RouteMessages, `{"topic":"t"}`, 422, "invalid", "body is required"},
		{RouteMessages, `{"topic":"t","body":1,"priority":-1}`, 422, "invalid", "priority"},
		{RouteMessages, `{"topic":"t","body":1,"priority":4294967296}`, 422, "invalid", "priority"},
		{RouteMessages, `{"topic":"t","body":1,"delay":"5"}`, 422, "invalid", "delay"},
		{RouteMessages, `{"topic":"t","body":1e400}`, 422, "invalid", "float64 range"},
		{RouteMessages, `{"topic":"t","body":"` + strings.Repeat("x", 4100) + `"}`, 413, "too_large", "PublishMaxBodyBytes"},
		{RouteMessages, `{"topic":"t","body":"` + strings.Repeat("x", 3000) + `"}`, 413, "too_large", "max-job-size"},
		{RouteBatch, `{"messages":`, 400, "bad_request", "not JSON"},
		{RouteBatch, `{}`, 422, "invalid", "messages"},
		{RouteBatch, `{"messages":[]}`, 422, "invalid", "empty"},
		{RouteBatch, `{"messages":{}}`, 422, "invalid", "cannot unmarshal"},
		{RouteBatch, `{"messages":[{},{},{}]}`, 413, "too_large", "PublishMaxBatch"},
	} {
		r := e.serve(tc.route, "", tc.body)
		name := tc.body[:min(len(tc.body), 60)]
		require.Equal(t, tc.status, r.status, "%s: %s", name, r.body)
		p := r.problem(t)
		assert.Equal(t, tc.code, p.Code, name)
		assert.Contains(t, p.Message, tc.msg, name)
	}
	assert.Zero(t, e.mainJobs(), "nothing was put")
}

func TestPublishIdempotency(t *testing.T) {
	e := newEnv(t)
	const tok = "publish-token-0123456789"
	body := `{"topic":"t","body":{"k":1}}`
	first := e.serve(RouteMessages, tok, body, "Idempotency-Key", "order-42")
	require.Equal(t, 202, first.status, "%s", first.body)
	assert.Empty(t, first.replay)
	again := e.serve(RouteMessages, tok, body, "Idempotency-Key", "order-42")
	assert.Equal(t, 202, again.status)
	assert.Equal(t, string(first.body), string(again.body))
	assert.Equal(t, "true", again.replay)
	assert.Equal(t, 1, e.mainJobs(), "the repeat put nothing")

	other := e.serve(RouteMessages, "another-token-0123456789", body, "Idempotency-Key", "order-42")
	assert.Equal(t, 202, other.status)
	assert.Empty(t, other.replay, "keys are scoped by token")
	assert.Equal(t, 2, e.mainJobs())

	// The record lives under the configured prefix with the TTL.
	key := e.api.recordKey([]byte(tok), "order-42")
	assert.True(t, strings.HasPrefix(key, "{medispatcher}:publish:idem:"), key)
	ttl, err := e.redis.Do(t.Context(), e.redis.B().Ttl().Key(key).Build()).AsInt64()
	require.NoError(t, err)
	assert.InDelta(t, 86400, ttl, 5)

	// A key whose first request still runs: 409.
	pendingKey := e.api.recordKey([]byte(tok), "busy")
	require.NoError(t, e.redis.Do(t.Context(), e.redis.B().Set().Key(pendingKey).Value(pending).Build()).Error())
	r := e.serve(RouteMessages, tok, body, "Idempotency-Key", "busy")
	assert.Equal(t, 409, r.status)
	assert.Equal(t, "conflict", r.problem(t).Code)

	// A failed request leaves no record: the client may try again.
	bad := e.serve(RouteMessages, tok, `{"topic":"","body":1}`, "Idempotency-Key", "retry-me")
	assert.Equal(t, 422, bad.status)
	n, err := e.redis.Do(t.Context(), e.redis.B().Exists().Key(e.api.recordKey([]byte(tok), "retry-me")).Build()).AsInt64()
	require.NoError(t, err)
	assert.Zero(t, n)
	ok := e.serve(RouteMessages, tok, body, "Idempotency-Key", "retry-me")
	assert.Equal(t, 202, ok.status)
	assert.Empty(t, ok.replay)

	// A bad key is refused.
	assert.Equal(t, 400, e.serve(RouteMessages, tok, body, "Idempotency-Key", "has space").status)
	assert.Equal(t, 400, e.serve(RouteMessages, tok, body, "Idempotency-Key", strings.Repeat("k", 201)).status)
	assert.Equal(t, 3, e.mainJobs())
}

func TestPublishIdempotencyConcurrent(t *testing.T) {
	e := newEnv(t)
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.serve(RouteBatch, "", `{"messages":[{"topic":"t","body":1}]}`, "Idempotency-Key", "same").status
		}()
	}
	wg.Wait()
	for _, s := range statuses {
		assert.Contains(t, []int{200, 409}, s)
	}
	assert.Equal(t, 1, e.mainJobs(), "one request published, the others were refused or replayed")
}

func TestPublishIdempotencyNeedsRedis(t *testing.T) {
	e := newEnv(t)
	e.redis.Close()
	e.rd.Stop()
	e.api.d.Redis = func(ctx context.Context) rueidis.Client { return nil }
	r := e.serve(RouteMessages, "", `{"topic":"t","body":1}`, "Idempotency-Key", "k")
	assert.Equal(t, 503, r.status)
	assert.Equal(t, "unavailable", r.problem(t).Code)
	assert.Zero(t, e.mainJobs(), "never published without the guarantee asked for")
}

func TestPublishFallsBackToTheRecoverList(t *testing.T) {
	e := newEnv(t)
	e.bs.Stop()
	require.Eventually(t, func() bool { return !e.pool.Healthy(0) }, 10*time.Second, 20*time.Millisecond)

	r := e.serve(RouteMessages, "", `{"topic":"t","body":{"a":[1,2]},"sender":"s","priority":9}`)
	require.Equal(t, 202, r.status, "%s", r.body)
	res := r.result(t)
	assert.Equal(t, "event_center_message_in_failure_log:publish", res.RecoverList)
	assert.Zero(t, res.JobID)
	assert.Equal(t, fmt.Sprintf(`{"recover_list":%q}`, res.RecoverList)+"\n", string(r.body))

	list, err := e.redis.Do(t.Context(), e.redis.B().Lrange().Key(res.RecoverList).Start(0).Stop(-1).Build()).AsStrSlice()
	require.NoError(t, err)
	require.Len(t, list, 1)
	var m message.Message
	require.NoError(t, message.Decode([]byte(list[0]), &m))
	assert.Equal(t, string(message.AppendMainJob(nil, &m)), list[0], "exactly the producer's job")
	assert.Equal(t, `{"a":[1,2]}`, bodyJSON(t, m))
	assert.Equal(t, uint32(9), m.Priority)

	// A batch falls back message by message.
	r = e.serve(RouteBatch, "", `{"messages":[{"topic":"t","body":1},{"topic":"t","body":2}]}`)
	require.Equal(t, 200, r.status)
	for _, x := range r.batch(t) {
		assert.Equal(t, res.RecoverList, x.RecoverList)
	}

	// Neither reachable: 503, nothing anywhere.
	e.api.d.Redis = func(ctx context.Context) rueidis.Client { return nil }
	r = e.serve(RouteMessages, "", `{"topic":"t","body":3}`)
	assert.Equal(t, 503, r.status)
	p := r.problem(t)
	assert.Equal(t, "unavailable", p.Code)
	assert.Contains(t, p.Message, "beanstalkd")
	assert.Contains(t, p.Message, "Redis")
	n, err := e.redis.Do(t.Context(), e.redis.B().Llen().Key(res.RecoverList).Build()).AsInt64()
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
}

// fakeTracer records what the API asks of a Tracer.
type fakeTracer struct {
	mu               sync.Mutex
	parent, route    string
	messages, status int
	ended            bool
}

func (f *fakeTracer) StartPublish(traceparent, route string, messages int) (string, func(int, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.parent, f.route, f.messages = traceparent, route, messages
	return "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", func(status int, _ error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.status, f.ended = status, true
	}
}

func TestPublishTracer(t *testing.T) {
	e := newEnv(t)
	tr := &fakeTracer{}
	e.build(tr)
	const parent = "00-11111111111111111111111111111111-2222222222222222-01"
	r := e.serve(RouteBatch, "", `{"messages":[{"topic":"t","body":1},{"topic":"t","body":2,"context":"own"}]}`, "traceparent", parent)
	require.Equal(t, 200, r.status, "%s", r.body)
	tr.mu.Lock()
	assert.Equal(t, []any{parent, RouteBatch, 2, 200, true}, []any{tr.parent, tr.route, tr.messages, tr.status, tr.ended})
	tr.mu.Unlock()
	res := r.batch(t)
	_, m, _ := e.job(res[0].JobID)
	assert.Equal(t, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", string(m.Context), "a message without context continues the request's span")
	_, m, _ = e.job(res[1].JobID)
	assert.Equal(t, "own", string(m.Context), "a message's own context is kept")

	e.build(nil)
	r = e.serve(RouteMessages, "", `{"topic":"t","body":1}`, "traceparent", parent)
	_, m, keys := e.job(r.result(t).JobID)
	assert.Empty(t, m.Context, "without a Tracer the job is the producer's")
	assert.NotContains(t, keys, "context")
}

func TestPublishMethod(t *testing.T) {
	e := newEnv(t)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	e.api.Serve(&ctx, RouteMessages, nil)
	assert.Equal(t, 405, ctx.Response.StatusCode())
	var a adminapi.ErrorAnswer
	require.NoError(t, json.Unmarshal(ctx.Response.Body(), &a))
	assert.Equal(t, "method_not_allowed", a.Error.Code)
}
