package push

import (
	"time"

	"github.com/valyala/fasthttp"
)

var strRetryAfter = []byte(fasthttp.HeaderRetryAfter)

// asksBackOff reports whether an answer's status is one whose Retry-After
// header asks the sender to wait: 429 Too Many Requests and 503 Service
// Unavailable. On any other status the header is ignored.
func asksBackOff(status int) bool {
	return status == fasthttp.StatusTooManyRequests || status == fasthttp.StatusServiceUnavailable
}

// backOff sets r.RetryAfter from the answer's Retry-After header when its
// status asks the sender to wait and p allows it (p.MaxRetryAfter > 0).
func backOff(p *Push, r *Result, resp *fasthttp.Response) {
	if p.MaxRetryAfter <= 0 || !asksBackOff(r.Status) {
		return
	}
	r.RetryAfter = retryAfter(resp.Header.PeekBytes(strRetryAfter), time.Now(), p.MaxRetryAfter)
}

// retryAfter is the wait a Retry-After value asks for, at most limit:
// either delay-seconds (a non-negative decimal integer) or an HTTP-date,
// which is the wait from now until then (0 when it has passed). A value
// that is neither, or empty, asks for nothing (0). Surrounding spaces and
// tabs are ignored.
//
// The date format servers send (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37
// GMT") is parsed without allocating; the two obsolete formats a recipient
// must still accept (RFC 850 and asctime) go through net/http's parser.
func retryAfter(v []byte, now time.Time, limit time.Duration) time.Duration {
	v = trimOWS(v)
	if len(v) == 0 || limit <= 0 {
		return 0
	}
	if v[0] >= '0' && v[0] <= '9' {
		return delaySeconds(v, limit)
	}
	t, err := fasthttp.ParseHTTPDate(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return min(d, limit)
}

// delaySeconds parses delay-seconds (digits only, v not empty) into a
// duration of at most limit; 0 when v holds anything but digits. A long
// run of digits saturates at limit instead of overflowing.
func delaySeconds(v []byte, limit time.Duration) time.Duration {
	capSec := int64(limit / time.Second)
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0
		}
		if n <= capSec {
			n = n*10 + int64(c-'0')
		}
	}
	if n > capSec {
		return limit
	}
	return time.Duration(n) * time.Second
}

// trimOWS drops the optional white space (spaces and tabs) around a header
// value.
func trimOWS(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}
