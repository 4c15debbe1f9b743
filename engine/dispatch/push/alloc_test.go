package push

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// fastSubscriber serves {"status":1} with fasthttp, which allocates nothing
// per request, so that allocations counted are the client's.
func fastSubscriber(tb testing.TB, ln net.Listener) {
	tb.Helper()
	serveFast(tb, ln, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":1}`)
	})
}

// serveFast serves handler on ln with fasthttp until the test ends.
func serveFast(tb testing.TB, ln net.Listener, handler fasthttp.RequestHandler) {
	tb.Helper()
	srv := &fasthttp.Server{Handler: handler}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
}

// maxPushAllocs is what a warm Push may allocate. Measured: 0. Raise it
// only with a reason; the point of the test is that garbage on the push
// path is noticed.
const maxPushAllocs = 0

func TestPushAllocs(t *testing.T) {
	msg := exampleMsg()
	msg.Context = []byte("ctx")
	msg.OwlContext = []byte("owl")
	allocs := warmPushAllocs(t, &Push{URL: "http://subscriber.test/hook?x=1", Msg: msg, SubID: 7, RetryTimes: 2, Timeout: 5 * time.Second})
	assert.LessOrEqual(t, allocs, float64(maxPushAllocs), "allocations per push")
	t.Logf("allocs per push: %v", allocs)
}

// TestPushSignedAllocs: signing (two keys, as while secrets rotate) adds
// no allocation to a warm push.
func TestPushSignedAllocs(t *testing.T) {
	allocs := warmPushAllocs(t, &Push{URL: "http://subscriber.test/hook?x=1", Msg: exampleMsg(), SubID: 7, RetryTimes: 1,
		Timeout: 5 * time.Second, Keys: [][]byte{[]byte("0123456789abcdefghijklmnopqrstuv"), []byte("another key of twenty-eight!")}})
	assert.LessOrEqual(t, allocs, float64(maxPushAllocs), "allocations per signed push")
	t.Logf("allocs per signed push: %v", allocs)
}

// warmPushAllocs pushes p to an in-memory fastSubscriber until the client
// is warm, then returns the allocations of one push.
func warmPushAllocs(t *testing.T, p *Push) float64 {
	t.Helper()
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	ln := fasthttputil.NewInmemoryListener()
	fastSubscriber(t, ln)
	c := NewClient(Config{Dial: func(string, time.Duration) (net.Conn, error) { return ln.Dial() }})
	var r Result
	ctx := context.Background()
	for range 10 {
		c.Push(ctx, p, &r)
		require.True(t, r.OK, "%v %v", r.Kind, r.Err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		c.Push(ctx, p, &r)
	})
	require.True(t, r.OK)
	return allocs
}
