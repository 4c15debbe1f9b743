package dispatch

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/observe/trace"
	"medispatcher/engine/observe/trace/tracetest"
	"medispatcher/internal/config"
)

const traceParentCtx = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// tracedWorker is a worker of subscription 7 ("orders") holding a message
// whose context holds traceParentCtx, pushing to an in-memory fasthttp
// subscriber (which allocates nothing per request) through an engine
// tracing with tr (nil: off). Its last traceparent header is in *seen.
func tracedWorker(tb testing.TB, tr *trace.Tracer) (w *worker, seen *func() string) {
	tb.Helper()
	ln := fasthttputil.NewInmemoryListener()
	var mu sync.Mutex
	var last []byte
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		last = append(last[:0], ctx.Request.Header.Peek("traceparent")...)
		mu.Unlock()
		ctx.SetBodyString(`{"status":1}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Shutdown() })
	client := push.NewClient(push.Config{Dial: func(string, time.Duration) (net.Conn, error) { return ln.Dial() }})
	e := &Engine{deps: Deps{Push: client, Tracer: tr}}
	r := &runner{e: e, id: 7, topic: "orders"}
	msg := &message.Message{Topic: []byte("orders"), Body: []byte{0xa2, 'h', 'i'}, Time: 1732500000.5, OriginJobID: 42,
		Context: []byte(traceParentCtx)}
	w = &worker{l: &lane{r: r}, msg: msg}
	w.push = push.Push{URL: "http://subscriber.test/hook", Msg: msg, SubID: r.id, RetryTimes: 1, Timeout: 5 * time.Second}
	get := func() string {
		mu.Lock()
		defer mu.Unlock()
		return string(last)
	}
	return w, &get
}

func traceTracer(tb testing.TB, ratio float64) (*trace.Tracer, *tracetest.Receiver) {
	tb.Helper()
	rcv := tracetest.Start(tb)
	cfg := config.Default()
	cfg.OtelEndpoint, cfg.OtelSampleRatio = rcv.Endpoint, ratio
	tr, err := trace.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, rcv
}

// TestTraceOffAllocs: with tracing off a push costs no allocation more
// than the push itself (none on a warm client) and sends no traceparent.
func TestTraceOffAllocs(t *testing.T) {
	w, seen := tracedWorker(t, nil)
	for range 10 {
		w.send()
		require.True(t, w.res.OK, "%v %v", w.res.Kind, w.res.Err)
	}
	assert.Empty(t, (*seen)(), "no traceparent header with tracing off")
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	allocs := testing.AllocsPerRun(200, w.send)
	assert.Zero(t, allocs, "allocations per push with tracing off")
}

// TestTraceUnsampledAllocs: a push whose trace is not sampled (its parent
// says so, or a new trace the ratio leaves out) records no span and costs
// no allocation, yet carries a traceparent: the parent's trace id (or a
// new one), a span id of its own, flags 00.
func TestTraceUnsampledAllocs(t *testing.T) {
	tr, rcv := traceTracer(t, 0)
	for _, c := range []struct{ name, context string }{
		{"unsampled parent", traceParentCtx[:53] + "00"},
		{"new trace, ratio 0", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, seen := tracedWorker(t, tr)
			w.msg.Context = []byte(c.context)
			w.send()
			require.True(t, w.res.OK, "%v %v", w.res.Kind, w.res.Err)
			tp := (*seen)()
			require.Len(t, tp, 55, "a traceparent is sent: %q", tp)
			assert.True(t, strings.HasSuffix(tp, "-00"), "not sampled: %s", tp)
			if c.context != "" {
				assert.Equal(t, traceParentCtx[:36], tp[:36], "the parent's trace")
				assert.NotEqual(t, traceParentCtx[36:52], tp[36:52], "a span id of its own")
			}
			if raceEnabled {
				return
			}
			assert.Zero(t, testing.AllocsPerRun(200, w.send), "allocations per unsampled push")
		})
	}
	require.NoError(t, tr.Shutdown(context.Background()))
	assert.Zero(t, rcv.Requests(), "no span was recorded")
}

// TestTracePushSpan: with tracing on, the push is a span whose parent is
// the message context's traceparent, and its header is the span's own.
func TestTracePushSpan(t *testing.T) {
	tr, rcv := traceTracer(t, 1)
	w, seen := tracedWorker(t, tr)
	w.send()
	require.True(t, w.res.OK, "%v %v", w.res.Kind, w.res.Err)
	require.NoError(t, tr.Shutdown(context.Background()))
	s := rcv.WaitFor(t, "push orders", 1, 5*time.Second)[0]
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", s.TraceID)
	assert.Equal(t, "00f067aa0ba902b7", s.ParentSpanID)
	assert.Equal(t, "00-"+s.TraceID+"-"+s.SpanID+"-01", (*seen)())
	assert.Equal(t, "1732500000.500000-42-7", s.Attrs["medispatcher.jobid"])
	assert.Equal(t, int64(1), s.Attrs["medispatcher.retry"])
	assert.Equal(t, int64(200), s.Attrs["http.response.status_code"])
	assert.Nil(t, w.push.Traceparent, "the buffer is not left in the push")
}

// BenchmarkTracePush is one push to an in-memory subscriber with tracing
// off, on with the trace not sampled, and on and sampled (the message's
// context holds a sampled parent, which a parent-based sampler follows).
func BenchmarkTracePush(b *testing.B) {
	for _, c := range []struct {
		name  string
		on    bool
		ratio float64
		flags string
	}{{"off", false, 0, "01"}, {"unsampled", true, 0, "00"}, {"sampled", true, 1, "01"}} {
		b.Run(c.name, func(b *testing.B) {
			var tr *trace.Tracer
			if c.on {
				tr, _ = traceTracer(b, c.ratio)
			}
			w, _ := tracedWorker(b, tr)
			w.msg.Context = []byte(traceParentCtx[:53] + c.flags)
			w.send()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				w.send()
			}
		})
	}
}
