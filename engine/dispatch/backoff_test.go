package dispatch

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// raHit is one push a backOffSubscriber received and what it answered.
type raHit struct {
	path       string
	jobID      string
	retryTimes int
	status     int
	at         time.Time
}

// backOffSubscriber answers a path's first push with 429 and
// Retry-After: 2 when that path is in throttle, every other push with
// success, and records each push with its time.
type backOffSubscriber struct {
	url      string
	throttle map[string]bool
	mu       sync.Mutex
	hits     []raHit
	notify   chan struct{}
}

func newBackOffSubscriber(t *testing.T, throttle ...string) *backOffSubscriber {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &backOffSubscriber{url: "http://" + ln.Addr().String(), throttle: map[string]bool{}, notify: make(chan struct{}, 1)}
	for _, p := range throttle {
		s.throttle[p] = true
	}
	srv := &fasthttp.Server{Handler: s.handle}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

func (s *backOffSubscriber) handle(ctx *fasthttp.RequestCtx) {
	h := raHit{path: string(ctx.Path()), jobID: string(ctx.PostArgs().Peek("jobid")), status: 200, at: time.Now()}
	h.retryTimes, _ = strconv.Atoi(string(ctx.PostArgs().Peek("retry_times")))
	s.mu.Lock()
	if s.throttle[h.path] {
		s.throttle[h.path] = false
		h.status = fasthttp.StatusTooManyRequests
	}
	s.hits = append(s.hits, h)
	s.mu.Unlock()
	if h.status != 200 {
		ctx.SetStatusCode(h.status)
		ctx.Response.Header.Set("Retry-After", "2")
		ctx.SetBodyString(`{"status":0}`)
	} else {
		ctx.SetBodyString(`{"status":1}`)
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// waitFor returns the hits once cond holds over them; it fails the test
// after timeout.
func (s *backOffSubscriber) waitFor(t *testing.T, timeout time.Duration, what string, cond func([]raHit) bool) []raHit {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		hits := append([]raHit(nil), s.hits...)
		s.mu.Unlock()
		if cond(hits) {
			return hits
		}
		select {
		case <-s.notify:
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s; pushes: %+v", timeout, what, hits)
		}
	}
}

// oksByPath counts the successful pushes of distinct jobids per path.
func oksByPath(hits []raHit) map[string]int {
	seen := map[string]bool{}
	n := map[string]int{}
	for _, h := range hits {
		if h.status == 200 && !seen[h.path+h.jobID] {
			seen[h.path+h.jobID] = true
			n[h.path]++
		}
	}
	return n
}

// waitPaused waits until subscription id is paused (the engine has taken
// the 429 answer in).
func (r *rig) waitPaused(id int64) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !r.eng.state.Load().runners[id].paused() {
		require.True(r.t, time.Now().Before(deadline), "subscription %d never paused", id)
		time.Sleep(time.Millisecond)
	}
}

// TestRetryAfterPausesSubscription: a 429 with Retry-After: 2 pauses that
// subscription (its next message and the failed message's retry come no
// earlier than 2 s after the 429) but not another subscription of the
// topic, and nothing is lost.
func TestRetryAfterPausesSubscription(t *testing.T) {
	const topic = "backoff_topic"
	s := newBackOffSubscriber(t, "/a")
	r := newRig(t, Options{MaxRetryAfter: 5 * time.Minute}, sub(71, topic, s.url+"/a"), sub(72, topic, s.url+"/b"))

	r.produce(topic, msgpackBody("i", 1), "")
	var at429 time.Time
	s.waitFor(t, 10*time.Second, "the 429", func(h []raHit) bool {
		for _, x := range h {
			if x.status != 200 {
				at429 = x.at
				return true
			}
		}
		return false
	})
	r.waitPaused(71)

	produced := time.Now()
	for i := 2; i <= 3; i++ {
		r.produce(topic, msgpackBody("i", i), "")
	}
	hits := s.waitFor(t, 15*time.Second, "every message at /a and /b", func(h []raHit) bool {
		n := oksByPath(h)
		return n["/a"] == 3 && n["/b"] == 3
	})
	for _, h := range hits {
		switch {
		case h.path == "/a" && h.status == 200:
			// The pause starts when the 429 is taken in, after the
			// subscriber recorded it: nothing of /a comes before 2 s.
			assert.GreaterOrEqual(t, h.at.Sub(at429), 2*time.Second,
				"push %s (retry %d) to /a came %v after the 429", h.jobID, h.retryTimes, h.at.Sub(at429))
			assert.Less(t, h.at.Sub(at429), 5*time.Second, "the pause ends")
		case h.path == "/b" && h.at.After(produced):
			// /b's copies of the messages produced during the pause
			// come at once.
			assert.Less(t, h.at.Sub(produced), time.Second, "/b got %s %v after it was produced", h.jobID, h.at.Sub(produced))
		}
	}
	if cutThrough() {
		// The paused subscription took no direct copy: they were spilled
		// into its channel tube, not held on the main job.
		a, b := r.eng.state.Load().runners[71].m, r.eng.state.Load().runners[72].m
		assert.Equal(t, uint64(1), a.direct.Get(), "/a took only the first message directly")
		assert.Equal(t, uint64(2), a.spilled.Get())
		assert.Equal(t, uint64(3), b.direct.Get())
	}
	assert.Equal(t, uint64(1), metrics.GetOrCreateCounter(`medispatcher_push_backoff_total{sub="71",topic="`+topic+`"}`).Get())
	assert.Equal(t, 1, countRetries(hits, "/a"), "the 429's message is retried once")
}

// TestRetryAfterIgnoredWhenOff: with MaxRetryAfter 0 the header changes
// nothing: the retry keeps the usual short delay and nothing pauses.
func TestRetryAfterIgnoredWhenOff(t *testing.T) {
	const topic = "backoff_off_topic"
	s := newBackOffSubscriber(t, "/a")
	r := newRig(t, Options{}, sub(73, topic, s.url+"/a"))

	r.produce(topic, msgpackBody("i", 1), "")
	hits := s.waitFor(t, 10*time.Second, "the 429 and its retry", func(h []raHit) bool { return oksByPath(h)["/a"] == 1 })
	require.Len(t, hits, 2)
	assert.Equal(t, 1, hits[1].retryTimes)
	assert.Less(t, hits[1].at.Sub(hits[0].at), 1500*time.Millisecond, "the retry waits the usual delay only")
	assert.False(t, r.eng.state.Load().runners[73].paused())
	assert.Zero(t, metrics.GetOrCreateCounter(`medispatcher_push_backoff_total{sub="73",topic="`+topic+`"}`).Get())
}

func countRetries(hits []raHit, path string) int {
	n := 0
	for _, h := range hits {
		if h.path == path && h.retryTimes > 0 {
			n++
		}
	}
	return n
}
