package testsrv

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// Hit is one push a Subscriber received.
type Hit struct {
	Path       string
	URI        string // request URI with the query string
	JobID      string // form field jobid
	RetryTimes int    // form field retry_times
	Message    string // form field message (the JSON body)
	Context    string // X-Jumei-Context header
	At         time.Time
}

// Answer decides a Subscriber's answer to a push; a positive delay holds
// the answer that long.
type Answer func(h Hit) (status int, body string, delay time.Duration)

// Subscriber is a real HTTP subscriber on a loopback port that records
// every push and answers `{"status":1}` unless told otherwise.
type Subscriber struct {
	URL    string // "http://127.0.0.1:<port>"
	t      testing.TB
	mu     sync.Mutex
	hits   []Hit
	notify chan struct{}
	answer Answer
	srv    *fasthttp.Server
}

// NewSubscriber starts a Subscriber, stopped when the test ends.
func NewSubscriber(t testing.TB) *Subscriber {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsrv: subscriber listen: %v", err)
	}
	s := &Subscriber{t: t, URL: "http://" + ln.Addr().String(), notify: make(chan struct{}, 1)}
	s.answer = func(Hit) (int, string, time.Duration) { return 200, `{"status":1}`, 0 }
	s.srv = &fasthttp.Server{Handler: s.handle, CloseOnShutdown: true}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Shutdown() })
	return s
}

// SetAnswer changes how the subscriber answers from the next push on.
func (s *Subscriber) SetAnswer(a Answer) {
	s.mu.Lock()
	s.answer = a
	s.mu.Unlock()
}

func (s *Subscriber) handle(ctx *fasthttp.RequestCtx) {
	args := ctx.PostArgs()
	h := Hit{
		Path:    string(ctx.Path()),
		URI:     string(ctx.RequestURI()),
		JobID:   string(args.Peek("jobid")),
		Message: string(args.Peek("message")),
		Context: string(ctx.Request.Header.Peek("X-Jumei-Context")),
		At:      time.Now(),
	}
	h.RetryTimes, _ = strconv.Atoi(string(args.Peek("retry_times")))
	s.mu.Lock()
	s.hits = append(s.hits, h)
	answer := s.answer
	s.mu.Unlock()
	status, body, delay := answer(h)
	if delay > 0 {
		time.Sleep(delay) // a slow subscriber, on purpose
	}
	ctx.SetStatusCode(status)
	ctx.SetBodyString(body)
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Hits returns every push received so far.
func (s *Subscriber) Hits() []Hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Hit(nil), s.hits...)
}

// WaitFor waits until cond holds over the pushes received, or fails the
// test after timeout.
func (s *Subscriber) WaitFor(timeout time.Duration, what string, cond func([]Hit) bool) []Hit {
	s.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if h := s.Hits(); cond(h) {
			return h
		}
		select {
		case <-s.notify:
		case <-deadline.C:
			s.t.Fatalf("timed out after %v waiting for %s; %d pushes", timeout, what, len(s.Hits()))
			return nil
		}
	}
}
