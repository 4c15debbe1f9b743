package push

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// loopbackServer is a real fasthttp server on 127.0.0.1 answering status 1;
// it counts the requests it got.
func loopbackServer(t *testing.T) (port string, hits *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hits = new(atomic.Int64)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		hits.Add(1)
		ctx.SetBodyString(`{"status":1}`)
	}, Logger: quietLogger{}}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = srv.Shutdown() })
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, hits
}

// TestPushDenyCIDRs: a subscriber address in a denied network is refused
// before any connection, as a connection failure naming address, host and
// network; one outside every denied network is delivered. A host name is
// checked on what it resolves to.
func TestPushDenyCIDRs(t *testing.T) {
	port, hits := loopbackServer(t)
	var r Result

	denied := NewClient(Config{DenyCIDRs: []string{"10.0.0.0/8", " 127.0.0.0/8", "::1/128"}})
	for _, host := range []string{"127.0.0.1", "localhost"} {
		start := time.Now()
		denied.Push(context.Background(), &Push{URL: "http://" + host + ":" + port + "/hook", Msg: exampleMsg(), Timeout: 5 * time.Second}, &r)
		assert.False(t, r.OK, host)
		assert.Equal(t, Connection, r.Kind, "%s: %v", host, r.Err)
		require.ErrorIs(t, r.Err, ErrDenied, host)
		var de *DeniedError
		require.ErrorAs(t, r.Err, &de)
		assert.Equal(t, host, de.Host)
		if host == "127.0.0.1" {
			assert.Contains(t, r.Err.Error(), "address 127.0.0.1 of host 127.0.0.1 is in a denied network 127.0.0.0/8")
		} else { // localhost may resolve to ::1 first
			assert.Contains(t, r.Err.Error(), "of host localhost is in a denied network")
		}
		assert.Less(t, time.Since(start), 2*time.Second, "refused at once")
	}
	assert.Zero(t, hits.Load(), "nothing reached the denied server")

	allowed := NewClient(Config{DenyCIDRs: []string{"10.0.0.0/8", "169.254.0.0/16", "fd00::/8"}})
	for _, host := range []string{"127.0.0.1", "localhost"} {
		allowed.Push(context.Background(), &Push{URL: "http://" + host + ":" + port + "/hook", Msg: exampleMsg(), Timeout: 5 * time.Second}, &r)
		assert.True(t, r.OK, "%s: %v %v", host, r.Kind, r.Err)
	}
	assert.Equal(t, int64(2), hits.Load())

	// Off by default: no deny list, delivered.
	NewClient(Config{}).Push(context.Background(), &Push{URL: "http://127.0.0.1:" + port + "/hook", Msg: exampleMsg(), Timeout: 5 * time.Second}, &r)
	assert.True(t, r.OK, "%v %v", r.Kind, r.Err)

	// An entry that is not a network refuses everything rather than
	// nothing.
	bad := NewClient(Config{DenyCIDRs: []string{"10.0.0.0/8", "not-a-cidr"}})
	bad.Push(context.Background(), &Push{URL: "http://127.0.0.1:" + port + "/hook", Msg: exampleMsg(), Timeout: 5 * time.Second}, &r)
	assert.Equal(t, Connection, r.Kind)
	assert.ErrorIs(t, r.Err, ErrDenied)
	assert.Contains(t, r.Err.Error(), `"not-a-cidr"`)
	assert.Equal(t, int64(3), hits.Load())
}

func TestDenyListMatchesMappedIPv4(t *testing.T) {
	d := newDenyList([]string{"10.0.0.0/8", "fd00::/8"}, nil)
	_, err := d.dial("[::ffff:10.1.2.3]:80", time.Second)
	require.ErrorIs(t, err, ErrDenied)
	assert.EqualError(t, err, "address 10.1.2.3 of host ::ffff:10.1.2.3 is in a denied network 10.0.0.0/8")
	_, err = d.dial("[fd12::1]:80", time.Second)
	assert.ErrorIs(t, err, ErrDenied)
}

// TestPushMaxAnswer: the answer kept for the failure record is capped by
// Config.MaxAnswer; a negative cap keeps none.
func TestPushMaxAnswer(t *testing.T) {
	body := `{"status":0,"pad":"0123456789abcdef"}`
	for _, tc := range []struct {
		max  int
		want string
	}{{0, body}, {10, body[:10]}, {-1, ""}} {
		sub, cfg := memSubscriber(t, func(*seen) answer { return answer{status: 200, body: []byte(body)} })
		cfg.MaxAnswer = tc.max
		var r Result
		NewClient(cfg).Push(context.Background(), &Push{URL: sub.url("/hook"), Msg: exampleMsg(), Timeout: 5 * time.Second}, &r)
		assert.Equal(t, BadAnswer, r.Kind)
		assert.Equal(t, tc.want, string(r.Answer), "MaxAnswer %d", tc.max)
	}
}

// TestPushMasksUserinfo: the push sends the URL's userinfo (as Basic
// authorization), but its errors show it masked.
func TestPushMasksUserinfo(t *testing.T) {
	sub, cfg := memSubscriber(t, ok1)
	c := NewClient(cfg)
	var r Result
	c.Push(context.Background(), &Push{URL: "http://user:hunter2@" + sub.host + "/hook", Msg: exampleMsg(), Timeout: 5 * time.Second}, &r)
	require.True(t, r.OK, "%v %v", r.Kind, r.Err)
	user, pass, ok := sub.next(t).req.BasicAuth()
	require.True(t, ok, "the full URL is pushed")
	assert.Equal(t, "user", user)
	assert.Equal(t, "hunter2", pass)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	NewClient(Config{}).Push(context.Background(), &Push{URL: "http://user:hunter2@" + addr + "/hook", Msg: exampleMsg(), Timeout: 2 * time.Second}, &r)
	assert.Equal(t, Connection, r.Kind)
	assert.NotContains(t, r.Err.Error(), "hunter2")
	assert.Contains(t, r.Err.Error(), "http://user:xxxxx@"+addr+"/hook")

	for _, u := range []string{"ftp://user:hunter2@h/x", "http://user:hunter2@h:bad/x"} {
		c.Push(context.Background(), &Push{URL: u, Msg: exampleMsg()}, &r)
		assert.Equal(t, BadURL, r.Kind, u)
		assert.NotContains(t, r.Err.Error(), "hunter2", u)
	}
	c.Push(context.Background(), &Push{URL: "http://user:hunter2@h/x", Msg: nil}, &r)
	assert.Equal(t, Encode, r.Kind)
}

// TestPushHostClientsBounded: over many distinct hosts, the host clients
// kept stay within the URL cache's bound; Forget releases a host's client
// once no URL kept uses it.
func TestPushHostClientsBounded(t *testing.T) {
	sub, cfg := memSubscriber(t, ok1)
	c := NewClient(cfg)
	c.targets.max = 32
	var r Result
	for i := range 300 {
		c.Push(context.Background(), &Push{URL: "http://h" + strconv.Itoa(i) + ".test/hook", Msg: exampleMsg(), Timeout: 5 * time.Second}, &r)
		require.True(t, r.OK, "%v %v", r.Kind, r.Err)
		require.LessOrEqual(t, c.targets.hostCount(), 32, "after %d hosts", i+1)
	}
	assert.Len(t, sub.seen, 300)

	// Two URLs of one host: forgetting one keeps the host client for the
	// other; forgetting both releases it.
	c = NewClient(cfg)
	a, b, other := "http://a.test/x", "http://a.test/y", "http://b.test/x"
	for _, u := range []string{a, b, other} {
		c.Push(context.Background(), &Push{URL: u, Msg: exampleMsg(), Timeout: 5 * time.Second}, &r)
		require.True(t, r.OK)
	}
	require.Equal(t, 2, c.targets.hostCount())
	c.Forget(a)
	assert.Equal(t, 2, c.targets.hostCount())
	c.Forget(b, "http://never.pushed/")
	assert.Equal(t, 1, c.targets.hostCount())
	assert.Len(t, *c.targets.urls.Load(), 1)
	// A forgotten URL is prepared again when pushed again.
	c.Push(context.Background(), &Push{URL: a, Msg: exampleMsg(), Timeout: 5 * time.Second}, &r)
	assert.True(t, r.OK, "%v %v", r.Kind, r.Err)
	assert.Equal(t, 2, c.targets.hostCount())
}
