package push

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"
	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/message"
)

// exampleBody is the push body observed from the old daemon, as a producer's msgpack:
// {"name":"Zoë <&> \"q\"", 7:"int-key", "f":0.1, "big":12345678901234,
// "nested":{"e":[1,[2,[3,{"f":"g"}]]]}}.
func exampleBody() []byte {
	b := msgp.AppendMapHeader(nil, 5)
	b = msgp.AppendString(b, "name")
	b = msgp.AppendString(b, "Zoë <&> \"q\"")
	b = msgp.AppendInt(b, 7)
	b = msgp.AppendString(b, "int-key")
	b = msgp.AppendString(b, "f")
	b = msgp.AppendFloat64(b, 0.1)
	b = msgp.AppendString(b, "big")
	b = msgp.AppendInt64(b, 12345678901234)
	b = msgp.AppendString(b, "nested")
	b = msgp.AppendMapHeader(b, 1)
	b = msgp.AppendString(b, "e")
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendInt(b, 1)
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendInt(b, 2)
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendInt(b, 3)
	b = msgp.AppendMapHeader(b, 1)
	b = msgp.AppendString(b, "f")
	b = msgp.AppendString(b, "g")
	return b
}

// exampleJSON is what encoding/json makes of exampleBody.
func exampleJSON(t testing.TB) string {
	b, err := json.Marshal(map[string]any{
		"name":   "Zoë <&> \"q\"",
		"7":      "int-key",
		"f":      0.1,
		"big":    int64(12345678901234),
		"nested": map[string]any{"e": []any{1, []any{2, []any{3, map[string]any{"f": "g"}}}}},
	})
	require.NoError(t, err)
	return string(b)
}

func exampleMsg() *message.Message {
	return &message.Message{
		Topic:       []byte("order_paid"),
		Body:        exampleBody(),
		Time:        1732500000.123456,
		OriginJobID: 1,
	}
}

// oldRequestURI is the request line's URI the old client sent: url.Parse,
// RawQuery += jobid and retry_times, String, then net/http's RequestURI of
// the re-parsed URL.
func oldRequestURI(t testing.TB, rawURL, jobid string, retry int) string {
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	add := "jobid=" + jobid + "&retry_times=" + strconv.Itoa(retry)
	if len(u.RawQuery) > 0 {
		add = "&" + add
	}
	u.RawQuery += add
	req, err := http.NewRequest(http.MethodPost, u.String(), nil)
	require.NoError(t, err)
	return req.URL.RequestURI()
}

// oldForm is the body the old client sent: url.Values.Encode.
func oldForm(jobid, msg string, retry int) string {
	return url.Values{"jobid": {jobid}, "message": {msg}, "retry_times": {strconv.Itoa(retry)}}.Encode()
}

func TestPushRequestWire(t *testing.T) {
	const jobid = "1732500000.123456-1-17"
	cases := []struct {
		name     string
		path     string // after the host
		retry    int
		ctx, owl string
		wantURI  string // literal, when the spec states it
	}{
		{name: "spec example", path: "/hook?x=1", wantURI: "/hook?x=1&jobid=" + jobid + "&retry_times=0"},
		{name: "no query", path: "/hook", retry: 1, wantURI: "/hook?jobid=" + jobid + "&retry_times=1"},
		{name: "empty query", path: "/hook?", retry: 2, wantURI: "/hook?jobid=" + jobid + "&retry_times=2"},
		{name: "no path", path: "", retry: 3, wantURI: "/?jobid=" + jobid + "&retry_times=3"},
		{name: "fragment dropped", path: "/h?a=b#frag", wantURI: "/h?a=b&jobid=" + jobid + "&retry_times=0"},
		{name: "escaped path", path: "/a%2Fb/c%20d?q=a+b&r=%41", retry: 10},
		{name: "context headers", path: "/hook", ctx: "ctx-1 a=b", owl: `{"trace":"x"}`},
		{name: "context only", path: "/hook", ctx: "c"},
		{name: "owl only", path: "/hook", owl: "o"},
	}
	sub, cfg := memSubscriber(t, ok1)
	c := NewClient(cfg)
	var r Result
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := exampleMsg()
			msg.Context, msg.OwlContext = []byte(tc.ctx), []byte(tc.owl)
			rawURL := sub.url(tc.path)
			c.Push(context.Background(), &Push{URL: rawURL, Msg: msg, SubID: 17, RetryTimes: tc.retry, Timeout: 5 * time.Second}, &r)
			require.True(t, r.OK, "%v %v", r.Kind, r.Err)
			s := sub.next(t)

			assert.Equal(t, http.MethodPost, s.req.Method)
			assert.Equal(t, "HTTP/1.1", s.req.Proto)
			assert.Equal(t, oldRequestURI(t, rawURL, jobid, tc.retry), s.req.RequestURI)
			if tc.wantURI != "" {
				assert.Equal(t, tc.wantURI, s.req.RequestURI)
			}
			assert.Equal(t, sub.host, s.req.Host)

			wantBody := oldForm(jobid, exampleJSON(t), tc.retry)
			assert.Equal(t, wantBody, string(s.body))
			assert.True(t, strings.HasPrefix(string(s.body), "jobid="+jobid+"&message=%7B%22"), "field order: %s", s.body)
			assert.True(t, strings.HasSuffix(string(s.body), "&retry_times="+strconv.Itoa(tc.retry)))
			form := s.form(t)
			assert.Equal(t, exampleJSON(t), form.Get("message"))
			assert.Equal(t, jobid, form.Get("jobid"))
			assert.Equal(t, strconv.Itoa(tc.retry), form.Get("retry_times"))
			assert.Equal(t, jobid, s.req.URL.Query().Get("jobid"))
			assert.Equal(t, strconv.Itoa(tc.retry), s.req.URL.Query().Get("retry_times"))

			want := http.Header{
				"Content-Type":    {"application/x-www-form-urlencoded"},
				"Content-Length":  {strconv.Itoa(len(wantBody))},
				"Accept-Encoding": {"gzip"},
				"User-Agent":      {"medispatcher/test"},
			}
			if tc.ctx != "" {
				want["X-Jumei-Context"] = []string{tc.ctx}
			}
			if tc.owl != "" {
				want["X-Jumei-Owl-Context"] = []string{tc.owl}
			}
			assert.Equal(t, want, s.req.Header)
			assert.Equal(t, int64(len(wantBody)), s.req.ContentLength)
			assert.Empty(t, s.req.TransferEncoding)

			// The wire itself: header names spelled as the old client
			// spelled them, one request line, nothing chunked.
			raw := string(s.raw)
			assert.True(t, strings.HasPrefix(raw, "POST "+s.req.RequestURI+" HTTP/1.1\r\n"), raw)
			for name := range want {
				assert.Contains(t, raw, "\r\n"+name+": ")
			}
			assert.Contains(t, raw, "\r\nHost: "+sub.host+"\r\n")
			assert.True(t, strings.HasSuffix(raw, "\r\n\r\n"+wantBody), raw)
		})
	}
}

func TestPushMessageFieldExact(t *testing.T) {
	sub, cfg := memSubscriber(t, ok1)
	c := NewClient(cfg)
	var r Result
	c.Push(context.Background(), &Push{URL: sub.url("/hook?x=1"), Msg: exampleMsg(), SubID: 1}, &r)
	require.True(t, r.OK, "%v %v", r.Kind, r.Err)
	s := sub.next(t)
	assert.Equal(t, "/hook?x=1&jobid=1732500000.123456-1-1&retry_times=0", s.req.RequestURI)
	msg := s.form(t).Get("message")
	assert.Equal(t, exampleJSON(t), msg)
	assert.True(t, strings.HasPrefix(msg, `{"7":"int-key","big":12345678901234,"f":0.1,"name":"Zoë \u003c\u0026\u003e \"q\"","nested":{"e":[1,[2,[3,{"f":"g"}]]]}}`), msg)
}

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func TestPushOutcomes(t *testing.T) {
	gzipped := map[string]string{"Content-Encoding": "gzip"}
	long := `{"status":0,"pad":"` + strings.Repeat("x", 1000) + `"}`
	cases := []struct {
		name       string
		a          answer
		maxBody    int
		kind       FailureKind
		err        error
		wantAnswer string
	}{
		{name: "status 1", a: answer{status: 200, body: []byte(`{"status":1}`)}, kind: None, wantAnswer: `{"status":1}`},
		{name: "status string 1", a: answer{status: 200, body: []byte(`{"status":"1","data":[]}`)}, kind: None},
		{name: "status 1.0", a: answer{status: 200, body: []byte(`{"status":1.0}`)}, kind: None},
		{name: "500", a: answer{status: 500, body: []byte(`{"status":1}`)}, kind: HTTPStatus, err: ErrHTTPStatus, wantAnswer: `{"status":1}`},
		{name: "404 empty", a: answer{status: 404}, kind: HTTPStatus, err: ErrHTTPStatus},
		{name: "201", a: answer{status: 201, body: []byte(`{"status":1}`)}, kind: HTTPStatus, err: ErrHTTPStatus},
		{name: "no status", a: answer{status: 200, body: []byte(`{"code":1}`)}, kind: BadAnswer, err: ErrBadAnswer, wantAnswer: `{"code":1}`},
		{name: "status 0", a: answer{status: 200, body: []byte(`{"status":0}`)}, kind: BadAnswer, err: ErrBadAnswer},
		{name: `status "0"`, a: answer{status: 200, body: []byte(`{"status":"0"}`)}, kind: BadAnswer, err: ErrBadAnswer},
		{name: "invalid JSON", a: answer{status: 200, body: []byte(`{"status":1`)}, kind: BadAnswer, err: ErrBadAnswer},
		{name: "plain text", a: answer{status: 200, body: []byte("ok")}, kind: BadAnswer, err: ErrBadAnswer, wantAnswer: "ok"},
		{name: "empty", a: answer{status: 200}, kind: BadAnswer, err: ErrBadAnswer},
		{name: "gzip status 1", a: answer{status: 200, header: gzipped, body: gz(t, `{"status":1}`)}, kind: None, wantAnswer: `{"status":1}`},
		{name: "gzip status 0", a: answer{status: 200, header: gzipped, body: gz(t, `{"status":0}`)}, kind: BadAnswer, err: ErrBadAnswer, wantAnswer: `{"status":0}`},
		{name: "broken gzip", a: answer{status: 200, header: gzipped, body: []byte(`{"status":1}`)}, kind: BadAnswer, err: ErrBadAnswer},
		{name: "answer kept to 512 bytes", a: answer{status: 200, body: []byte(long)}, kind: BadAnswer, err: ErrBadAnswer, wantAnswer: long[:DefaultMaxAnswer]},
		{name: "answer too large", maxBody: 100, a: answer{status: 200, body: []byte(long)}, kind: BadAnswer, err: ErrAnswerTooLarge},
		{name: "answer too large 500", maxBody: 100, a: answer{status: 500, body: []byte(long)}, kind: HTTPStatus, err: ErrAnswerTooLarge},
		{name: "gzip inflates too far", maxBody: 100, a: answer{status: 200, header: gzipped, body: gz(t, long)}, kind: BadAnswer, err: ErrAnswerTooLarge, wantAnswer: long[:100]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub, cfg := memSubscriber(t, func(*seen) answer { return tc.a })
			cfg.MaxResponseBody = tc.maxBody
			c := NewClient(cfg)
			r := Result{Answer: []byte("left over from the previous push")}
			c.Push(context.Background(), &Push{URL: sub.url("/hook"), Msg: exampleMsg(), SubID: 1, Timeout: 5 * time.Second}, &r)
			assert.Equal(t, tc.kind, r.Kind, "%v", r.Err)
			assert.Equal(t, tc.kind == None, r.OK)
			assert.Equal(t, tc.a.status, r.Status)
			assert.Positive(t, r.Elapsed)
			if tc.err != nil {
				assert.ErrorIs(t, r.Err, tc.err)
			} else {
				assert.NoError(t, r.Err)
			}
			if tc.wantAnswer != "" {
				assert.Equal(t, tc.wantAnswer, string(r.Answer))
			}
			assert.LessOrEqual(t, len(r.Answer), DefaultMaxAnswer)
			assert.NotContains(t, string(r.Answer), "left over")
		})
	}
}

func TestPushTimeout(t *testing.T) {
	release := make(chan struct{})
	sub := tcpSubscriber(t, func(*seen) answer { return answer{status: 200, body: []byte(`{"status":1}`), hold: release} })
	defer close(release) // let the handler finish before the subscriber closes
	c := NewClient(Config{})
	var r Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Push(context.Background(), &Push{URL: sub.url("/slow"), Msg: exampleMsg(), Timeout: 150 * time.Millisecond}, &r)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Push blocked past its timeout")
	}
	sub.next(t) // the request did arrive
	assert.Equal(t, Timeout, r.Kind, "%v", r.Err)
	assert.False(t, r.OK)
	assert.ErrorIs(t, r.Err, fasthttp.ErrTimeout)
	assert.GreaterOrEqual(t, r.Elapsed, 150*time.Millisecond)
	assert.Zero(t, r.Status)
}

func TestPushContext(t *testing.T) {
	sub, cfg := memSubscriber(t, ok1)
	c := NewClient(cfg)
	var r Result

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Push(ctx, &Push{URL: sub.url("/hook"), Msg: exampleMsg()}, &r)
	assert.Equal(t, Canceled, r.Kind)
	assert.ErrorIs(t, r.Err, context.Canceled)
	assert.Empty(t, sub.seen, "a canceled push must not reach the subscriber")

	// A context deadline shorter than the push's timeout bounds it.
	release := make(chan struct{})
	defer close(release)
	slow, slowCfg := memSubscriber(t, func(*seen) answer { return answer{status: 200, hold: release} })
	c = NewClient(slowCfg)
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c.Push(ctx, &Push{URL: slow.url("/hook"), Msg: exampleMsg(), Timeout: time.Minute}, &r)
	assert.Equal(t, Canceled, r.Kind, "%v", r.Err)
	assert.ErrorIs(t, r.Err, context.DeadlineExceeded)
	assert.Less(t, r.Elapsed, 30*time.Second)
}

func TestPushRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	c := NewClient(Config{})
	var r Result
	c.Push(context.Background(), &Push{URL: "http://" + addr + "/hook", Msg: exampleMsg(), Timeout: 2 * time.Second}, &r)
	assert.Equal(t, Connection, r.Kind, "%v", r.Err)
	assert.False(t, r.OK)
	assert.Error(t, r.Err)
	assert.Contains(t, r.Err.Error(), addr)
	assert.Zero(t, r.Status)
}

func TestPushClosedWithoutAnswer(t *testing.T) {
	sub := tcpSubscriber(t, func(*seen) answer { return answer{close: true} })
	c := NewClient(Config{})
	var r Result
	c.Push(context.Background(), &Push{URL: sub.url("/hook"), Msg: exampleMsg(), Timeout: 2 * time.Second}, &r)
	assert.Equal(t, Connection, r.Kind, "%v", r.Err)
	assert.Error(t, r.Err)
	// One retry at most: a broken connection is retried once, as a stale
	// keep-alive connection would be.
	assert.LessOrEqual(t, len(sub.seen), 2)
}

// A server that closes a keep-alive connection after answering must not
// fail the next push: the dead pooled connection is retried on a new one.
func TestPushStaleKeepAlive(t *testing.T) {
	sub := tcpSubscriber(t, func(*seen) answer {
		return answer{status: 200, body: []byte(`{"status":1}`), closeAfter: true}
	})
	c := NewClient(Config{})
	var r Result
	for i := range 3 {
		c.Push(context.Background(), &Push{URL: sub.url("/hook"), Msg: exampleMsg(), RetryTimes: i, Timeout: 2 * time.Second}, &r)
		require.True(t, r.OK, "push %d: %v %v", i, r.Kind, r.Err)
		assert.Equal(t, strconv.Itoa(i), sub.next(t).req.URL.Query().Get("retry_times"))
	}
	assert.GreaterOrEqual(t, sub.connCount(), 3)
}

func TestPushBadURL(t *testing.T) {
	c := NewClient(Config{})
	for _, u := range []string{"", "hook", "/hook", "ftp://127.0.0.1/x", "http://", "http:///x", "http://[::1/x", "mailto:a@b", "http://a b/", "http://h/\x01"} {
		var r Result
		c.Push(context.Background(), &Push{URL: u, Msg: exampleMsg()}, &r)
		assert.Equal(t, BadURL, r.Kind, "%q", u)
		assert.ErrorIs(t, r.Err, ErrBadURL, "%q", u)
	}
}

func TestPushEncode(t *testing.T) {
	sub, cfg := memSubscriber(t, ok1)
	c := NewClient(cfg)
	var r Result
	msg := exampleMsg()
	msg.Body = []byte{0x82, 0xa1, 'a'} // a map of two pairs, cut short
	c.Push(context.Background(), &Push{URL: sub.url("/hook"), Msg: msg}, &r)
	assert.Equal(t, Encode, r.Kind)
	assert.ErrorIs(t, r.Err, message.ErrMalformed)
	assert.Empty(t, sub.seen, "an unencodable message must not be sent")

	c.Push(context.Background(), &Push{URL: sub.url("/hook")}, &r)
	assert.Equal(t, Encode, r.Kind)
	assert.ErrorIs(t, r.Err, ErrNoMessage)
}

func TestPushHTTPS(t *testing.T) {
	certPEM, keyPEM, err := fasthttp.GenerateTestCertificate("localhost")
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	got := make(chan string, 1)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		got <- string(ctx.RequestURI())
		ctx.SetBodyString(`{"status":1}`)
	}, Logger: quietLogger{}}
	go srv.ServeTLSEmbed(ln, certPEM, keyPEM) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = srv.Shutdown() })

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	c := NewClient(Config{TLSConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}})
	var r Result
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	c.Push(context.Background(), &Push{URL: "https://127.0.0.1:" + port + "/secure?k=v", Msg: exampleMsg(), SubID: 2, Timeout: 5 * time.Second}, &r)
	require.True(t, r.OK, "%v %v", r.Kind, r.Err)
	assert.Equal(t, "/secure?k=v&jobid=1732500000.123456-1-2&retry_times=0", <-got)

	// An unverifiable certificate is a connection failure, not a success.
	c = NewClient(Config{})
	c.Push(context.Background(), &Push{URL: "https://127.0.0.1:" + port + "/secure", Msg: exampleMsg(), Timeout: 5 * time.Second}, &r)
	assert.Equal(t, Connection, r.Kind, "%v", r.Err)
}

func TestPushOneHostClientPerHost(t *testing.T) {
	a, b := tcpSubscriber(t, ok1), tcpSubscriber(t, ok1)
	c := NewClient(Config{})
	var r Result
	for _, u := range []string{a.url("/x"), a.url("/y?q=1"), a.url("/x"), b.url("/x")} {
		c.Push(context.Background(), &Push{URL: u, Msg: exampleMsg(), Timeout: 5 * time.Second}, &r)
		require.True(t, r.OK, "%s: %v %v", u, r.Kind, r.Err)
	}
	c.targets.mu.Lock()
	defer c.targets.mu.Unlock()
	assert.Len(t, c.targets.hosts, 2)
	urls := *c.targets.urls.Load()
	assert.Len(t, urls, 3)
	assert.Same(t, urls[a.url("/x")].hc, urls[a.url("/y?q=1")].hc)
	assert.NotSame(t, urls[a.url("/x")].hc, urls[b.url("/x")].hc)
}

func TestPushURLCacheBounded(t *testing.T) {
	sub, cfg := memSubscriber(t, ok1)
	c := NewClient(cfg)
	c.targets.max = 50
	var r Result
	for i := range 120 {
		_, err := c.targets.get(sub.url("/p" + strconv.Itoa(i)))
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, len(*c.targets.urls.Load()), 50)
	assert.Len(t, c.targets.hosts, 1, "host clients outlive the URL cache")
	c.Push(context.Background(), &Push{URL: sub.url("/p1"), Msg: exampleMsg()}, &r)
	assert.True(t, r.OK, "%v %v", r.Kind, r.Err)
}

func TestPushConcurrent(t *testing.T) {
	sub := tcpSubscriber(t, ok1)
	c := NewClient(Config{MaxConnsPerHost: 4})
	const workers, each = 16, 25
	var wg sync.WaitGroup
	fails := make(chan string, workers*each)
	for w := range workers {
		wg.Go(func() {
			var r Result
			msg := exampleMsg()
			for i := range each {
				c.Push(context.Background(), &Push{URL: sub.url("/hook"), Msg: msg, SubID: int64(w), RetryTimes: i, Timeout: 10 * time.Second}, &r)
				if !r.OK {
					fails <- r.Kind.String() + ": " + r.Err.Error()
				}
			}
		})
	}
	wg.Wait()
	close(fails)
	for f := range fails {
		t.Error(f)
	}
	assert.Len(t, sub.seen, workers*each)
	assert.LessOrEqual(t, sub.connCount(), 4, "MaxConnsPerHost is a bound")
}

func TestFailureKindString(t *testing.T) {
	assert.Equal(t, "none", None.String())
	assert.Equal(t, "timeout", Timeout.String())
	assert.Equal(t, "canceled", Canceled.String())
	assert.Equal(t, "kind(99)", FailureKind(99).String())
}

// quietLogger drops the server's log: the failed handshake is expected.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
