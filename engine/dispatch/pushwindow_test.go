package dispatch

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
)

// capSubscriber answers at most n concurrent pushes quickly (after base);
// beyond n it answers 503 at once (slow == 0) or 200 after slow. It counts
// the pushes in flight at its end and, with every push, the channel
// lane's window its subscription had when the push arrived.
type capSubscriber struct {
	url        string
	n          int32
	base, slow time.Duration
	cur, peak  atomic.Int32
	total, bad atomic.Int32
	window     atomic.Pointer[func() int]
	mu         sync.Mutex
	windows    []int
	hit        chan struct{}
}

func newCapSubscriber(t *testing.T, n int, base, slow time.Duration) *capSubscriber {
	t.Helper()
	s := &capSubscriber{n: int32(n), base: base, slow: slow, hit: make(chan struct{}, 1)}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *capSubscriber) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	_, _ = io.Copy(io.Discard, req.Body)
	c := s.arrived()
	over := c > s.n
	switch {
	case over && s.slow == 0:
		s.bad.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	case over:
		time.Sleep(s.slow)
	default:
		time.Sleep(s.base)
	}
	s.cur.Add(-1)
	if !over || s.slow > 0 {
		_, _ = io.WriteString(w, `{"status":1}`)
	}
	select {
	case s.hit <- struct{}{}:
	default:
	}
}

// arrived counts a push in: it returns how many are in flight with it,
// and records the window it found.
func (s *capSubscriber) arrived() int32 {
	c := s.cur.Add(1)
	for p := s.peak.Load(); c > p && !s.peak.CompareAndSwap(p, c); p = s.peak.Load() {
	}
	if f := s.window.Load(); f != nil {
		s.mu.Lock()
		s.windows = append(s.windows, (*f)())
		s.mu.Unlock()
	}
	s.total.Add(1)
	return c
}

// watch records with every push the channel window of subscription id.
func (s *capSubscriber) watch(r *rig, id int64) {
	f := func() int { ch, _, _ := r.eng.PushWindow(id); return ch }
	s.window.Store(&f)
}

// waitHits waits until the subscriber has had n pushes.
func (s *capSubscriber) waitHits(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for s.total.Load() < int32(n) {
		select {
		case <-s.hit:
		case <-deadline:
			t.Fatalf("the subscriber had %d pushes, want %d", s.total.Load(), n)
		}
	}
}

// windowsFrom returns the windows recorded from push i on.
func (s *capSubscriber) windowsFrom(i int) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.windows[min(i, len(s.windows)):])
}

// produceN puts n messages of topic.
func (r *rig) produceN(topic string, n int) {
	for i := range n {
		r.produce(topic, msgpackBody("i", i), "")
	}
}

// waitWindow waits, on the subscriber's pushes, until cond holds for the
// subscription's channel window.
func waitWindow(t *testing.T, r *rig, s *capSubscriber, id int64, what string, cond func(int) bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		if ch, _, _ := r.eng.PushWindow(id); cond(ch) {
			return
		}
		select {
		case <-s.hit:
		case <-deadline:
			ch, _, _ := r.eng.PushWindow(id)
			t.Fatalf("window %d: never %s", ch, what)
		}
	}
}

func windowSub(id int64, topic, url string, conc int, adaptive string) *subs.Subscription {
	s := sub(id, topic, url)
	s.Concurrency, s.RetryConcurrency, s.AdaptiveWindow = conc, 1, adaptive
	return s
}

// nearCapacity pushes n messages of topic to s through subscription id
// and checks that, past the first third, the window stayed near the 4
// pushes s takes: between 2 and 5 in the median (halving at 5 and growing
// back by 1 per round), never above 8.
func (s *capSubscriber) nearCapacity(t *testing.T, r *rig, id int64, topic string, n int) {
	t.Helper()
	s.watch(r, id)
	r.produceN(topic, n)
	s.waitHits(t, n)
	late := s.windowsFrom(n / 3)
	m := median(late)
	require.True(t, m >= 2 && m <= 5, "median window %d, want 2..5", m)
	require.LessOrEqual(t, slices.Max(late), 8, "the window stays near 4")
}

func median(v []int) int {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func scrapeMetrics() string {
	var b bytes.Buffer
	metrics.WritePrometheus(&b, false)
	return b.String()
}

// TestWindowSettlesAtCapacity: a subscriber that answers 503 beyond 4
// concurrent pushes gets a window around 4 and few 503s, where the fixed
// concurrency of 16 would have had three in four pushes refused.
func TestWindowSettlesAtCapacity(t *testing.T) {
	s := newCapSubscriber(t, 4, 10*time.Millisecond, 0)
	// Retries wait beyond the test: the subscriber sees the channel lane.
	r := newRig(t, Options{RetryCoe: time.Minute}, windowSub(1401, "win_cap", s.url, 16, subs.WindowOn))
	s.nearCapacity(t, r, 1401, "win_cap", 600)
	share := float64(s.bad.Load()) / float64(s.total.Load())
	require.Less(t, share, 0.2, "share of 503s")
	require.LessOrEqual(t, s.peak.Load(), int32(16+1), "never beyond the lanes' concurrency")
	out := scrapeMetrics()
	require.Contains(t, out, `medispatcher_push_window{sub="1401",topic="win_cap",lane="channel"}`)
	require.Contains(t, out, `medispatcher_push_window{sub="1401",topic="win_cap",lane="retry"}`)
	require.Regexp(t, `medispatcher_push_window_decreases_total\{sub="1401",topic="win_cap",reason="503"\} [1-9]`, out)
}

// TestWindowFollowsLatency: a subscriber that gets slow beyond 4
// concurrent pushes keeps the window near 4.
func TestWindowFollowsLatency(t *testing.T) {
	s := newCapSubscriber(t, 4, 10*time.Millisecond, 150*time.Millisecond)
	r := newRig(t, Options{}, windowSub(1402, "win_slow", s.url, 16, subs.WindowOn))
	s.nearCapacity(t, r, 1402, "win_slow", 300)
	require.Regexp(t, `medispatcher_push_window_decreases_total\{sub="1402",topic="win_slow",reason="latency"\} [1-9]`, scrapeMetrics())
}

// TestWindowGrowsToConcurrency: a fast subscriber's window grows to the
// configured concurrency, which the pushes in flight never exceed.
func TestWindowGrowsToConcurrency(t *testing.T) {
	s := newCapSubscriber(t, 1000, 5*time.Millisecond, 0)
	r := newRig(t, Options{AdaptiveWindow: true}, windowSub(1403, "win_fast", s.url, 8, ""))
	r.produceN("win_fast", 400)
	waitWindow(t, r, s, 1403, "8", func(w int) bool { return w == 8 })
	s.waitHits(t, 400)
	require.LessOrEqual(t, s.peak.Load(), int32(8))
	require.Contains(t, scrapeMetrics(), `medispatcher_push_window{sub="1403",topic="win_fast",lane="channel"} 8`)
}

// TestWindowOffKeepsConcurrency: off (the default), a lane pushes at its
// concurrency from the start.
func TestWindowOffKeepsConcurrency(t *testing.T) {
	s := newCapSubscriber(t, 1000, 20*time.Millisecond, 0)
	r := newRig(t, Options{}, windowSub(1404, "win_off", s.url, 6, ""))
	ch, retry, ok := r.eng.PushWindow(1404)
	require.True(t, ok)
	require.Equal(t, [2]int{6, 1}, [2]int{ch, retry}, "off: the window is the concurrency")
	r.produceN("win_off", 120)
	s.waitHits(t, 120)
	require.Equal(t, int32(6), s.peak.Load(), "off: pushes at the full concurrency")
	require.Contains(t, scrapeMetrics(), `medispatcher_push_window{sub="1404",topic="win_off",lane="channel"} 6`)
}

// TestWindowCeilingFollowsConcurrency: a live change of the concurrency
// moves the window's ceiling both ways.
func TestWindowCeilingFollowsConcurrency(t *testing.T) {
	s := newCapSubscriber(t, 1000, 20*time.Millisecond, 0)
	first := windowSub(1405, "win_live", s.url, 4, subs.WindowOn)
	r := newRig(t, Options{}, first)
	r.produceN("win_live", 1500)
	waitWindow(t, r, s, 1405, "4", func(w int) bool { return w == 4 })
	require.LessOrEqual(t, s.peak.Load(), int32(4+1))

	wider := *first
	wider.Concurrency = 10
	r.src.set(t, &wider)
	waitWindow(t, r, s, 1405, "10", func(w int) bool { return w == 10 })

	s.peak.Store(0)
	narrower := *first
	narrower.Concurrency = 3
	r.src.set(t, &narrower)
	waitWindow(t, r, s, 1405, "3 or less", func(w int) bool { return w <= 3 })
	// The pushes let in under the wider window end first.
	s.waitHits(t, int(s.total.Load())+30)
	s.peak.Store(0)
	s.waitHits(t, int(s.total.Load())+50)
	require.LessOrEqual(t, s.peak.Load(), int32(3+1), "the narrower ceiling holds (the retry lane adds 1)")
}
