// Package push delivers one message to one subscriber over HTTP, exactly as
// subscribers have always received it: a form POST carrying
// jobid, message (the body as JSON) and retry_times, the same two fields on
// the query string, the tracing headers (and, when the push is traced, the
// W3C traceparent of its span), and the success rule "HTTP 200 and
// a JSON answer whose status is 1". A push given signing keys (a
// subscription's signing_secrets) also carries the Standard Webhooks
// headers webhook-id, webhook-timestamp and webhook-signature; without keys
// nothing is added.
//
// A push is one attempt: it never retries on its own account (retries and
// their delays belong to the sender and the retry tube), never panics, never
// blocks past its timeout, and never allocates per message on its hot path
// beyond what the caller's Result already holds: buffers are pooled and the
// per-host HTTP clients are created once and found without a lock.
//
// An answer 429 or 503 may ask the sender to wait (its Retry-After
// header); a push reports that wait, bounded by the caller, in
// Result.RetryAfter and leaves what to do with it to the sender.
//
// What a push shows people (its errors) carries the URL with its userinfo
// masked (redact.URL); the request itself uses the full URL. An optional
// deny list (Config.DenyCIDRs) refuses subscriber addresses in given
// networks, checked on every address a host name resolves to when a
// connection is opened.
package push

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/message"
	"medispatcher/internal/buildinfo"
	"medispatcher/internal/rawsock"
	"medispatcher/internal/redact"
)

// Defaults of Config.
const (
	DefaultMaxConnsPerHost     = 512
	DefaultMaxIdleConnDuration = 10 * time.Second
	DefaultMaxResponseBody     = 64 << 10
	// DefaultTimeout is the old DefaultMaxMessageProcessTime, used when a
	// push carries no timeout.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxAnswer is how much of the answer a Result keeps for the
	// failure record when Config.MaxAnswer is 0.
	DefaultMaxAnswer = 512
)

// Errors a Result may carry; a Result's Err wraps one of these or the
// transport's own error (Timeout, Connection) or message's (Encode).
var (
	ErrHTTPStatus     = errors.New("answer status is not 200")
	ErrBadAnswer      = errors.New(`answer is not a JSON object with "status" 1`)
	ErrAnswerTooLarge = errors.New("answer exceeds the size limit")
	ErrNoMessage      = errors.New("push without a message")
)

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// UserAgent is sent with every push; default buildinfo.UserAgent().
	UserAgent string
	// MaxConnsPerHost bounds the connections to one scheme+host; a push
	// finding all of them busy waits for one until its own deadline.
	MaxConnsPerHost int
	// MaxIdleConnDuration closes keep-alive connections idle for longer.
	// Keep it below the subscribers' own idle timeouts, so that a push
	// rarely picks a connection the server has just closed.
	MaxIdleConnDuration time.Duration
	// MaxResponseBody bounds the answer read (and gunzipped); a longer
	// answer fails the push (ErrAnswerTooLarge) without being read.
	MaxResponseBody int
	// TLSConfig is used for https URLs; nil means fasthttp's default
	// (certificates verified).
	TLSConfig *tls.Config
	// Dial, when set, opens the connections (addr is host:port); nil dials
	// TCP. Tests use it to reach in-memory listeners.
	Dial func(addr string, timeout time.Duration) (net.Conn, error)
	// MaxAnswer is how many bytes of the (gunzipped) answer a Result keeps
	// for the failure record (the daemon's FailureAnswerMaxBytes); 0 means
	// DefaultMaxAnswer, a negative value keeps none.
	MaxAnswer int
	// DenyCIDRs refuses to connect to an address in these networks (the
	// daemon's PushDenyCIDRs): every address a host name resolves to is
	// checked when a connection is opened, and the checked addresses are
	// the ones dialled, so a DNS answer cannot slip past the check. Such a
	// push fails at once as a Connection failure wrapping ErrDenied. An
	// entry that is not a CIDR fails every push (fail closed). nil = off,
	// at no cost.
	DenyCIDRs []string
}

// Client pushes messages. It is safe for concurrent use; create one per
// process and share it.
type Client struct {
	cfg     Config
	deny    *denyList // nil without DenyCIDRs
	targets targets
	scratch sync.Pool // *scratch
}

// NewClient returns a Client with cfg's zero fields set to their defaults.
func NewClient(cfg Config) *Client {
	if cfg.UserAgent == "" {
		cfg.UserAgent = buildinfo.UserAgent()
	}
	if cfg.MaxConnsPerHost <= 0 {
		cfg.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if cfg.MaxIdleConnDuration <= 0 {
		cfg.MaxIdleConnDuration = DefaultMaxIdleConnDuration
	}
	if cfg.MaxResponseBody <= 0 {
		cfg.MaxResponseBody = DefaultMaxResponseBody
	}
	switch {
	case cfg.MaxAnswer == 0:
		cfg.MaxAnswer = DefaultMaxAnswer
	case cfg.MaxAnswer < 0:
		cfg.MaxAnswer = 0
	}
	c := &Client{cfg: cfg}
	if len(cfg.DenyCIDRs) > 0 {
		c.deny = newDenyList(cfg.DenyCIDRs, cfg.Dial)
	}
	c.targets.newHC = c.newHostClient
	c.targets.max = maxTargets
	c.scratch.New = func() any { return new(scratch) }
	return c
}

// CloseIdleConnections closes the keep-alive connections not in use.
func (c *Client) CloseIdleConnections() { c.targets.closeIdle() }

// Forget drops what the client prepared for these URLs, and the host
// client (with its idle connections) of each host no other prepared URL
// uses. Call it when a subscription is cancelled with the URLs it pushed
// to; a URL still in use elsewhere is simply prepared again on its next
// push. Without it the prepared URLs and host clients stay bounded anyway
// (see maxTargets), but a cancelled subscription's connections would stay
// open until they idle out.
func (c *Client) Forget(urls ...string) { c.targets.forget(urls) }

func (c *Client) newHostClient(addr string, isTLS bool) *fasthttp.HostClient {
	hc := &fasthttp.HostClient{
		Addr:                addr,
		IsTLS:               isTLS,
		TLSConfig:           c.cfg.TLSConfig,
		Name:                c.cfg.UserAgent,
		MaxConns:            c.cfg.MaxConnsPerHost,
		MaxIdleConnDuration: c.cfg.MaxIdleConnDuration,
		MaxResponseBodySize: c.cfg.MaxResponseBody,
		// Large enough for the cookie-laden headers of PHP frameworks.
		ReadBufferSize: 16 << 10,
		// Capped by each request's own timeout: a push waits for a free
		// connection only as long as it may take in total.
		MaxConnWaitTimeout: time.Hour,
		// The request line must be the path the old client sent, as it is.
		DisablePathNormalizing: true,
		RetryIfErr:             retryStale,
	}
	// fasthttp's own dialer, dialing IPv6 as well as IPv4 addresses (as
	// net/http did), with its DNS cache.
	dial := fasthttp.DialDualStackTimeout
	if c.cfg.Dial != nil {
		dial = c.cfg.Dial
	}
	if c.deny != nil {
		dial = c.deny.dial
	}
	hc.DialTimeout = func(addr string, timeout time.Duration) (net.Conn, error) {
		conn, err := dial(addr, timeout)
		if err != nil {
			return nil, err
		}
		return rawsock.Wrap(conn), nil // see package rawsock: no P handoff per read and write
	}
	return hc
}

// retryStale retries a POST once when the connection broke before any
// answer: that is almost always a keep-alive connection the server closed
// while it sat idle in the pool, the one case net/http retries on its own.
// Should the server have read the request after all, the subscriber sees
// the same jobid twice, which it de-duplicates on anyway.
func retryStale(_ *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if attempts != 1 {
		return false, false
	}
	return false, err == io.EOF || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Push is one delivery attempt.
type Push struct {
	URL        string           // one subscription URL (already picked from the list)
	Msg        *message.Message // Body, Time, OriginJobID, Context, OwlContext are used
	SubID      int64            // subscription id, part of the jobid
	RetryTimes int              // sent as retry_times: 0 on the first push, then 1, 2, …
	Timeout    time.Duration    // whole attempt, connect to answer; <= 0: DefaultTimeout
	// Keys sign the push (the Standard Webhooks headers), one signature
	// per key in this order; nil: unsigned, exactly the 2.x request. The
	// subscription's SigningKeys, shared and read only.
	Keys [][]byte
	// MaxRetryAfter bounds Result.RetryAfter (the daemon's
	// MaxRetryAfterSeconds); <= 0: the Retry-After header is not looked
	// at, as in 2.x.
	MaxRetryAfter time.Duration
	// Traceparent, when not empty, is sent as the W3C traceparent header
	// (the push's own span, so that the subscriber's span joins its
	// trace); empty: no header, exactly the 2.x request.
	Traceparent []byte
}

// FailureKind says why a push failed.
type FailureKind uint8

// The kinds of failure.
const (
	None       FailureKind = iota // success
	HTTPStatus                    // answer status other than 200
	BadAnswer                     // 200, but not a JSON object with status 1
	Timeout                       // no answer within the timeout
	Connection                    // refused, reset, DNS, TLS: no answer at all
	Encode                        // the body cannot be turned into JSON (a malformed message)
	BadURL                        // the URL cannot be pushed to
	Canceled                      // the context was done before the push started
)

var kindNames = [...]string{"none", "http_status", "bad_answer", "timeout", "connection", "encode", "bad_url", "canceled"}

func (k FailureKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Result is the outcome of a push. Reuse one per sending routine: Answer
// keeps its buffer across pushes.
type Result struct {
	OK      bool
	Kind    FailureKind
	Status  int           // HTTP status; 0 when there was no answer
	Elapsed time.Duration // from the start of Push to the answer or the failure
	// Answer is the first Config.MaxAnswer bytes of the (gunzipped)
	// answer, for the failure record; it is r's own buffer, valid until the
	// next push.
	Answer []byte
	// RetryAfter is the wait a 429 or 503 answer asked for with its
	// Retry-After header, at most Push.MaxRetryAfter; 0 when there was no
	// such answer or header, or the header could not be parsed.
	RetryAfter time.Duration
	Err        error
}

func (r *Result) reset() {
	r.OK = false
	r.Kind = None
	r.Status = 0
	r.Elapsed = 0
	r.Answer = r.Answer[:0]
	r.RetryAfter = 0
	r.Err = nil
}

func (r *Result) fail(kind FailureKind, err error) {
	r.OK = false
	r.Kind = kind
	r.Err = err
}

// scratch holds the per-push buffers, pooled so that a warm client
// allocates nothing per message.
type scratch struct {
	json  []byte
	jobid []byte
	uri   []byte
	body  []byte
	unzip limitedBuf
	sign  signer
}

// maxPooledBuf keeps one huge message from pinning its buffers in the pool.
const maxPooledBuf = 1 << 20

func (c *Client) putScratch(s *scratch) {
	if cap(s.json) > maxPooledBuf || cap(s.body) > maxPooledBuf || cap(s.unzip.b) > maxPooledBuf {
		return
	}
	c.scratch.Put(s)
}

// limitedBuf is an io.Writer that refuses to grow past max, so that a
// gzip answer cannot inflate without bound.
type limitedBuf struct {
	b   []byte
	max int
}

func (w *limitedBuf) Write(p []byte) (int, error) {
	if room := w.max - len(w.b); len(p) > room {
		w.b = append(w.b, p[:max(room, 0)]...)
		return max(room, 0), ErrAnswerTooLarge
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

var (
	strPost           = []byte(fasthttp.MethodPost)
	strFormType       = []byte("application/x-www-form-urlencoded")
	strAcceptEncoding = []byte("Accept-Encoding")
	strGzip           = []byte("gzip")
	strContext        = []byte("X-Jumei-Context")
	strOwlContext     = []byte("X-Jumei-Owl-Context")
	strTraceparent    = []byte("traceparent")
)

// Push makes one delivery attempt and reports it in r (reset first). It
// checks ctx once before starting and keeps to the earlier of ctx's
// deadline and p.Timeout; an attempt under way is not interrupted by a
// cancellation, only by that deadline.
func (c *Client) Push(ctx context.Context, p *Push, r *Result) {
	r.reset()
	start := time.Now()
	if p == nil {
		r.fail(Encode, ErrNoMessage)
		return
	}
	if err := ctx.Err(); err != nil {
		r.fail(Canceled, fmt.Errorf("push to %s: %w", redact.URL(p.URL), err))
		return
	}
	if p.Msg == nil {
		r.fail(Encode, ErrNoMessage)
		return
	}
	t, err := c.targets.get(p.URL)
	if err != nil {
		r.fail(BadURL, err)
		return
	}
	s := c.scratch.Get().(*scratch)
	defer c.putScratch(s)

	s.json, err = message.AppendJSON(s.json[:0], p.Msg.Body)
	if err != nil {
		r.fail(Encode, fmt.Errorf("encode body for %s: %w", redact.URL(p.URL), err))
		return
	}
	s.jobid = message.AppendJobID(s.jobid[:0], p.Msg.Time, p.Msg.OriginJobID, p.SubID)

	// The query string carries jobid as it is (the old client appended it
	// to RawQuery unescaped); the form escapes every value.
	s.uri = append(s.uri[:0], t.prefix...)
	s.uri = append(s.uri, "jobid="...)
	s.uri = append(s.uri, s.jobid...)
	s.uri = append(s.uri, "&retry_times="...)
	s.uri = strconv.AppendInt(s.uri, int64(p.RetryTimes), 10)

	// url.Values.Encode sorts the keys: jobid, message, retry_times.
	s.body = append(s.body[:0], "jobid="...)
	s.body = appendFormEscape(s.body, s.jobid)
	s.body = append(s.body, "&message="...)
	s.body = appendFormEscape(s.body, s.json)
	s.body = append(s.body, "&retry_times="...)
	s.body = strconv.AppendInt(s.body, int64(p.RetryTimes), 10)

	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURIBytes(s.uri)
	req.Header.SetMethodBytes(strPost)
	req.Header.SetContentTypeBytes(strFormType)
	req.Header.SetCanonical(strAcceptEncoding, strGzip)
	if len(p.Msg.Context) > 0 {
		req.Header.SetCanonical(strContext, p.Msg.Context)
	}
	if len(p.Msg.OwlContext) > 0 {
		req.Header.SetCanonical(strOwlContext, p.Msg.OwlContext)
	}
	if len(p.Traceparent) > 0 {
		req.Header.SetCanonical(strTraceparent, p.Traceparent)
	}
	req.SetBodyRaw(s.body)
	if len(p.Keys) > 0 {
		s.sign.sign(&req.Header, p.Keys, s.jobid, s.body, start)
	}

	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	deadline := start.Add(timeout)
	ctxBound := false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxBound = d, true
	}
	err = t.hc.DoDeadline(req, resp, deadline)
	r.Elapsed = time.Since(start)
	if err != nil {
		c.transportFailure(ctx, ctxBound, p, r, resp, err)
	} else {
		c.judge(r, resp, s)
	}
	backOff(p, r, resp)
}

// judge applies the success rule to an answer.
func (c *Client) judge(r *Result, resp *fasthttp.Response, s *scratch) {
	r.Status = resp.StatusCode()
	body := resp.Body()
	var unzipErr error
	if bytes.EqualFold(resp.Header.ContentEncoding(), strGzip) {
		s.unzip.b, s.unzip.max = s.unzip.b[:0], c.cfg.MaxResponseBody
		_, unzipErr = fasthttp.WriteGunzip(&s.unzip, body)
		body = s.unzip.b
	}
	r.Answer = append(r.Answer[:0], body[:min(len(body), c.cfg.MaxAnswer)]...)
	switch {
	case r.Status != fasthttp.StatusOK:
		r.fail(HTTPStatus, ErrHTTPStatus)
	case unzipErr != nil:
		r.fail(BadAnswer, fmt.Errorf("%w: gunzip: %w", ErrBadAnswer, unzipErr))
	case !answerOK(body):
		r.fail(BadAnswer, ErrBadAnswer)
	default:
		r.OK = true
	}
}

// transportFailure classifies an attempt that got no usable answer.
// ctxBound says the deadline was ctx's: its timer may not have fired yet
// when fasthttp's did, so the deadline itself decides.
func (c *Client) transportFailure(ctx context.Context, ctxBound bool, p *Push, r *Result, resp *fasthttp.Response, err error) {
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		// The header was read: keep the status for the record.
		r.Status = resp.StatusCode()
		if r.Status != fasthttp.StatusOK {
			r.fail(HTTPStatus, ErrAnswerTooLarge)
		} else {
			r.fail(BadAnswer, ErrAnswerTooLarge)
		}
	case isTimeout(err):
		ctxErr := ctx.Err()
		if ctxErr == nil && ctxBound {
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr != nil {
			r.fail(Canceled, fmt.Errorf("push to %s: %w", redact.URL(p.URL), ctxErr))
			return
		}
		r.fail(Timeout, fmt.Errorf("push to %s: %w", redact.URL(p.URL), err))
	default:
		r.fail(Connection, fmt.Errorf("push to %s: %w", redact.URL(p.URL), err))
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.Is(err, fasthttp.ErrNoFreeConns) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
