package alert

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/config"
)

// testClock is an injected clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newSub returns a subscription as the daemon sees it: taken from a Set,
// so that its URLs are parsed.
func newSub(tb testing.TB, id int64, edit func(*subs.Subscription)) *subs.Subscription {
	tb.Helper()
	s := &subs.Subscription{ID: id, Topic: "order_paid", SubscriberID: 3, URL: "http://127.0.0.1:1/hook", AlertEnabled: true}
	if edit != nil {
		edit(s)
	}
	got := subs.NewSet([]*subs.Subscription{s}).ByID(id)
	require.NotNil(tb, got)
	return got
}

// newMonitor builds a Monitor on config.Default() changed by edit, with
// the test clock.
func newMonitor(tb testing.TB, edit func(*config.Config), opts ...Option) (*Monitor, *testClock) {
	tb.Helper()
	cfg := config.Default()
	if edit != nil {
		edit(cfg)
	}
	clk := newTestClock()
	m, err := New(cfg, nil, append([]Option{WithClock(clk.Now)}, opts...)...)
	require.NoError(tb, err)
	return m, clk
}

// runMonitor runs m.Run until the test ends and waits for it to return.
func runMonitor(tb testing.TB, m *Monitor) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
}

// countKind is the number of alerts of kind Recent holds.
func countKind(m *Monitor, kind string) int {
	n := 0
	for _, a := range m.Recent(1 << 20) {
		if a.Kind == kind {
			n++
		}
	}
	return n
}

// delivered is what WithOnDelivery reported.
type delivered struct {
	gateway string
	alert   Alert
	err     error
}

// deliveries returns an Option reporting every delivery on a channel.
func deliveries() (Option, chan delivered) {
	ch := make(chan delivered, 64)
	return WithOnDelivery(func(g string, a Alert, err error) { ch <- delivered{g, a, err} }), ch
}

// next waits for one delivery report.
func next(tb testing.TB, ch chan delivered) delivered {
	tb.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(10 * time.Second):
		tb.Fatal("no delivery reported within 10 s")
		return delivered{}
	}
}

// recorder is a Gateway kept in memory, for routing tests.
type recorder struct {
	mu   sync.Mutex
	msgs []Message
}

func (r *recorder) Send(_ context.Context, msg *Message) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, *msg)
	r.mu.Unlock()
	return nil
}

func (r *recorder) sent() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}
