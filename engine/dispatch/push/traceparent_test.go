package push

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPushTraceparent: a push given a traceparent sends it as the W3C
// header, spelled in lower case; without one no such header is sent.
func TestPushTraceparent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sub, cfg := memSubscriber(t, ok1)
	c := NewClient(cfg)
	var r Result
	c.Push(context.Background(), &Push{URL: sub.url("/hook"), Msg: exampleMsg(), SubID: 3, Timeout: 5 * time.Second,
		Traceparent: []byte(tp)}, &r)
	require.True(t, r.OK, "%v %v", r.Kind, r.Err)
	s := sub.next(t)
	assert.Equal(t, []string{tp}, s.req.Header.Values("Traceparent"))
	assert.Contains(t, string(s.raw), "\r\ntraceparent: "+tp+"\r\n")

	c.Push(context.Background(), &Push{URL: sub.url("/hook"), Msg: exampleMsg(), SubID: 3, Timeout: 5 * time.Second}, &r)
	require.True(t, r.OK, "%v %v", r.Kind, r.Err)
	s = sub.next(t)
	assert.Empty(t, s.req.Header.Values("Traceparent"))
	assert.False(t, strings.Contains(strings.ToLower(string(s.raw)), "traceparent"))
}

// TestPushTraceparentAllocs: the traceparent header adds no allocation to
// a warm push.
func TestPushTraceparentAllocs(t *testing.T) {
	allocs := warmPushAllocs(t, &Push{URL: "http://subscriber.test/hook?x=1", Msg: exampleMsg(), SubID: 7, Timeout: 5 * time.Second,
		Traceparent: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")})
	assert.LessOrEqual(t, allocs, float64(maxPushAllocs), "allocations per traced push")
	t.Logf("allocs per traced push: %v", allocs)
}
