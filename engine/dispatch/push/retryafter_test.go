package push

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

var retryAfterNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

var retryAfterCases = []struct {
	in   string
	want time.Duration
}{
	{"2", 2 * time.Second},
	{" 120\t", 120 * time.Second},
	{"0", 0},
	{"007", 7 * time.Second},
	{"300", 300 * time.Second},
	{"301", 300 * time.Second},
	{"99999999999999999999999999999", 300 * time.Second},
	{"", 0},
	{"   ", 0},
	{"-5", 0},
	{"+5", 0},
	{"1.5", 0},
	{"5s", 0},
	{"soon", 0},
	{"Mon, 30 Nov 2026 12:00:30 GMT", 30 * time.Second},  // IMF-fixdate
	{"Monday, 30-Nov-26 12:01:00 GMT", time.Minute},      // RFC 850
	{"Mon Nov 30 12:00:05 2026", 5 * time.Second},        // asctime
	{"Mon, 30 Nov 2026 11:59:00 GMT", 0},                 // in the past
	{"Fri, 01 Jan 2100 00:00:00 GMT", 300 * time.Second}, // bounded
	{"Mon, 30 Nov 2026 12:00:30 CET", 0},
	{"Mon, 32 Nov 2026 12:00:30 GMT", 0},
}

func TestRetryAfterParse(t *testing.T) {
	for _, tc := range retryAfterCases {
		assert.Equal(t, tc.want, retryAfter([]byte(tc.in), retryAfterNow, 300*time.Second), "%q", tc.in)
	}
	assert.Equal(t, time.Duration(0), retryAfter([]byte("10"), retryAfterNow, 0), "limit 0 honours nothing")
}

// retryAfterAnswers are retryAfterSubscriber's answers by path: /429 with
// Retry-After: 2, /503 without the header, /500 with one (not a status
// that asks to wait), /huge with a huge value, /garbage with one that
// parses as nothing, /far with a date far ahead; /503date (not listed)
// answers 503 with a date 3 s ahead.
var retryAfterAnswers = map[string]struct {
	status int
	header string
}{
	"/429":     {http.StatusTooManyRequests, "2"},
	"/503":     {http.StatusServiceUnavailable, ""},
	"/500":     {http.StatusInternalServerError, "2"},
	"/huge":    {http.StatusTooManyRequests, "18446744073709551616"},
	"/garbage": {http.StatusServiceUnavailable, "in a while"},
	"/far":     {http.StatusTooManyRequests, "Fri, 01 Jan 2100 00:00:00 GMT"},
}

// retryAfterSubscriber is a fasthttp subscriber answering as
// retryAfterAnswers says, and a client reaching it.
func retryAfterSubscriber(tb testing.TB) *Client {
	ln := fasthttputil.NewInmemoryListener()
	serveFast(tb, ln, func(ctx *fasthttp.RequestCtx) {
		a, ok := retryAfterAnswers[string(ctx.Path())]
		if !ok {
			a.status, a.header = http.StatusServiceUnavailable, time.Now().Add(3*time.Second).UTC().Format(http.TimeFormat)
		}
		ctx.SetStatusCode(a.status)
		if a.header != "" {
			ctx.Response.Header.Set("Retry-After", a.header)
		}
		ctx.SetBodyString(`{"status":0}`)
	})
	return NewClient(Config{Dial: func(string, time.Duration) (net.Conn, error) { return ln.Dial() }})
}

func TestPushRetryAfter(t *testing.T) {
	c := retryAfterSubscriber(t)
	const limit = 300 * time.Second
	cases := []struct {
		path     string
		status   int
		min, max time.Duration
	}{
		{"/429", 429, 2 * time.Second, 2 * time.Second},
		// The date has whole seconds: between 2 and 3 s remain.
		{"/503date", 503, 1500 * time.Millisecond, 3 * time.Second},
		{"/503", 503, 0, 0},
		{"/500", 500, 0, 0},
		{"/huge", 429, limit, limit},
		{"/garbage", 503, 0, 0},
	}
	var r Result
	for _, tc := range cases {
		c.Push(context.Background(), &Push{URL: "http://subscriber.test" + tc.path, Msg: exampleMsg(), MaxRetryAfter: limit}, &r)
		require.False(t, r.OK, tc.path)
		assert.Equal(t, HTTPStatus, r.Kind, tc.path)
		assert.Equal(t, tc.status, r.Status, tc.path)
		assert.GreaterOrEqual(t, r.RetryAfter, tc.min, tc.path)
		assert.LessOrEqual(t, r.RetryAfter, tc.max, tc.path)
	}
	// Without a bound the header is not looked at (2.x), and a push
	// starts with no RetryAfter of the one before.
	c.Push(context.Background(), &Push{URL: "http://subscriber.test/429", Msg: exampleMsg(), MaxRetryAfter: limit}, &r)
	require.Equal(t, 2*time.Second, r.RetryAfter)
	c.Push(context.Background(), &Push{URL: "http://subscriber.test/429", Msg: exampleMsg()}, &r)
	assert.Equal(t, 429, r.Status)
	assert.Zero(t, r.RetryAfter)
}

// TestPushRetryAfterAllocs: reading Retry-After (seconds or IMF-fixdate)
// adds no allocation to a warm push.
func TestPushRetryAfterAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c := retryAfterSubscriber(t)
	for _, path := range []string{"/429", "/far"} {
		p := &Push{URL: "http://subscriber.test" + path, Msg: exampleMsg(), MaxRetryAfter: time.Minute}
		var r Result
		for range 10 {
			c.Push(context.Background(), p, &r)
		}
		allocs := testing.AllocsPerRun(200, func() { c.Push(context.Background(), p, &r) })
		require.Positive(t, r.RetryAfter, path)
		assert.LessOrEqual(t, allocs, float64(maxPushAllocs), "allocations per push answered %s", path)
	}
}

// FuzzRetryAfter: any header value gives a wait between 0 and the limit;
// delay-seconds agree with strconv, dates with net/http's parser.
func FuzzRetryAfter(f *testing.F) {
	for _, tc := range retryAfterCases {
		f.Add([]byte(tc.in), uint32(300))
	}
	f.Fuzz(func(t *testing.T, v []byte, limitSec uint32) {
		limit := time.Duration(limitSec) * time.Second
		got := retryAfter(v, retryAfterNow, limit)
		if got < 0 || got > limit {
			t.Fatalf("retryAfter(%q, limit %v) = %v: out of range", v, limit, got)
		}
		if want, ok := refRetryAfter(string(trimOWS(v)), limit); ok && got != want {
			t.Fatalf("retryAfter(%q, limit %v) = %v, want %v", v, limit, got, want)
		}
	})
}

// refRetryAfter is the rule with the standard library, where it decides:
// ok is false when it does not (a date net/http rejects that fasthttp's
// strict IMF-fixdate parser might read differently is not compared).
func refRetryAfter(v string, limit time.Duration) (time.Duration, bool) {
	if v == "" {
		return 0, true
	}
	if v[0] >= '0' && v[0] <= '9' {
		if strings.Trim(v, "0123456789") != "" {
			return 0, true
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > uint64(limit/time.Second) { // err: out of range
			return limit, true
		}
		return time.Duration(n) * time.Second, true
	}
	d, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(d.Sub(retryAfterNow), 0), limit), true
}
