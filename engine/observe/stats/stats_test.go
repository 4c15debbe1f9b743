package stats

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// t0 is aligned to a 10-minute boundary, so every ring's bucket starts there.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// fakeClock is safe to read while another goroutine moves it.
type fakeClock struct{ ns atomic.Int64 }

func newClock(at time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(at.UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) set(d time.Duration)     { c.ns.Store(t0.Add(d).UnixNano()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func pushes(ws Windows) [5]uint64 {
	return [5]uint64{ws.S1.Pushes, ws.S10.Pushes, ws.M1.Pushes, ws.H1.Pushes, ws.D1.Pushes}
}

func TestWindowsAsTimeAdvances(t *testing.T) {
	type step struct {
		at   time.Duration
		push int       // pushes (ok, channel lane) at this moment, before the check
		want [5]uint64 // 1s, 10s, 1m, 1h, 1d
	}
	ms := time.Millisecond
	tests := []struct {
		name  string
		steps []step
	}{
		{"one burst leaves each window at its edge", []step{
			{at: 500 * ms, push: 4, want: [5]uint64{4, 4, 4, 4, 4}},
			{at: 999 * ms, want: [5]uint64{4, 4, 4, 4, 4}},
			{at: time.Second, want: [5]uint64{0, 4, 4, 4, 4}},
			{at: 9999 * ms, want: [5]uint64{0, 4, 4, 4, 4}},
			{at: 10 * time.Second, want: [5]uint64{0, 0, 4, 4, 4}},
			{at: time.Minute - ms, want: [5]uint64{0, 0, 4, 4, 4}},
			{at: time.Minute, want: [5]uint64{0, 0, 0, 4, 4}},
			{at: time.Hour - ms, want: [5]uint64{0, 0, 0, 4, 4}},
			{at: time.Hour, want: [5]uint64{0, 0, 0, 0, 4}},
			{at: 24*time.Hour - ms, want: [5]uint64{0, 0, 0, 0, 4}},
			{at: 24 * time.Hour, want: [5]uint64{0, 0, 0, 0, 0}},
		}},
		{"slots reused after one ring period start from zero", []step{
			{at: 0, push: 1, want: [5]uint64{1, 1, 1, 1, 1}},
			// Same slot of the second ring, one minute later.
			{at: time.Minute, push: 2, want: [5]uint64{2, 2, 2, 3, 3}},
			// Same slot of the second and minute rings: the minute-1
			// bucket is still inside the hour.
			{at: time.Hour, push: 4, want: [5]uint64{4, 4, 4, 6, 7}},
			// Same slot of all three rings: the 10-minute bucket of the
			// first hour's push is still inside the day, the first is not.
			{at: 24 * time.Hour, push: 8, want: [5]uint64{8, 8, 8, 8, 12}},
		}},
		{"spread over seconds", []step{
			{at: 0, push: 1, want: [5]uint64{1, 1, 1, 1, 1}},
			{at: 1 * time.Second, push: 1, want: [5]uint64{1, 2, 2, 2, 2}},
			{at: 5 * time.Second, push: 1, want: [5]uint64{1, 3, 3, 3, 3}},
			{at: 10 * time.Second, push: 1, want: [5]uint64{1, 3, 4, 4, 4}},
			{at: 11 * time.Second, want: [5]uint64{0, 2, 4, 4, 4}},
			{at: 61 * time.Second, want: [5]uint64{0, 0, 2, 4, 4}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(t0)
			s := New(WithClock(clk.now))
			c := s.Sub(1, "orders")
			var total uint64
			for _, st := range tt.steps {
				clk.set(st.at)
				for range st.push {
					c.Push(true, false)
				}
				total += uint64(st.push)
				snap := s.Snapshot()
				require.Len(t, snap.Subscriptions, 1)
				assert.Equal(t, st.want, pushes(snap.Subscriptions[0].Windows), "at %v", st.at)
				assert.Equal(t, st.want, pushes(snap.Totals), "totals at %v", st.at)
				assert.Equal(t, total, snap.Subscriptions[0].Total.Pushes, "total at %v", st.at)
				assert.Equal(t, clk.now(), snap.Time)
			}
		})
	}
}

func TestFailuresRetriesAndRatio(t *testing.T) {
	clk := newClock(t0)
	s := New(WithClock(clk.now))
	c := s.Sub(7, "orders")
	for _, p := range []struct{ ok, retry bool }{
		{true, false}, {true, false}, {false, false}, {false, true}, {true, true},
	} {
		c.Push(p.ok, p.retry)
	}
	snap := s.Snapshot()
	want := Window{Pushes: 5, Failures: 2, Retries: 2, FailureRatio: 0.4}
	got := snap.Subscriptions[0]
	for name, w := range map[string]Window{
		"1s": got.Windows.S1, "10s": got.Windows.S10, "1m": got.Windows.M1,
		"1h": got.Windows.H1, "1d": got.Windows.D1, "total": got.Total,
		"topic 1m": snap.Topics[0].Windows.M1, "totals 1d": snap.Totals.D1,
	} {
		w.Seconds = 0
		assert.Equal(t, want, w, name)
	}

	// Later the 1 s window is empty: its ratio is 0, not NaN.
	clk.advance(2500 * time.Millisecond)
	snap = s.Snapshot()
	assert.Equal(t, Window{Seconds: 0.5}, snap.Subscriptions[0].Windows.S1)
	assert.InDelta(t, 0.4, snap.Subscriptions[0].Windows.S10.FailureRatio, 1e-12)
}

func TestSecondsAndRate(t *testing.T) {
	clk := newClock(t0)
	s := New(WithClock(clk.now))
	c := s.Sub(1, "orders")

	// Younger than every window: each covers the subscription's age.
	clk.set(2500 * time.Millisecond)
	for range 10 {
		c.Push(true, false)
	}
	ws := s.Snapshot().Subscriptions[0].Windows
	assert.InDelta(t, 0.5, ws.S1.Seconds, 1e-9)
	assert.InDelta(t, 2.5, ws.S10.Seconds, 1e-9)
	assert.InDelta(t, 2.5, ws.D1.Seconds, 1e-9)
	assert.InDelta(t, 4.0, ws.S10.Rate(), 1e-9)

	// Older: the partial current bucket plus the complete ones before it.
	clk.set(2*time.Hour + 30*time.Second + 250*time.Millisecond)
	snap := s.Snapshot()
	ws = snap.Subscriptions[0].Windows
	assert.InDelta(t, 0.25, ws.S1.Seconds, 1e-9)
	assert.InDelta(t, 9.25, ws.S10.Seconds, 1e-9)
	assert.InDelta(t, 59.25, ws.M1.Seconds, 1e-9)
	assert.InDelta(t, 59*60+30.25, ws.H1.Seconds, 1e-9)
	assert.InDelta(t, 2*3600+30.25, ws.D1.Seconds, 1e-9, "capped by age")
	clk.set(30*time.Hour + 10*time.Minute + 30*time.Second + 250*time.Millisecond)
	assert.InDelta(t, 143*600+30.25, s.Snapshot().Subscriptions[0].Windows.D1.Seconds, 1e-9)
	assert.InDelta(t, (2*time.Hour + 30250*time.Millisecond).Seconds(), snap.Subscriptions[0].Total.Seconds, 1e-9)
	assert.InDelta(t, 10/ws.D1.Seconds, ws.D1.Rate(), 1e-12)
	assert.Zero(t, Window{}.Rate())
}

func TestSubSameCounter(t *testing.T) {
	s := New()
	a := s.Sub(1, "orders")
	assert.Same(t, a, s.Sub(1, "orders"))
	assert.NotSame(t, a, s.Sub(2, "orders"))
	assert.Equal(t, int64(1), a.ID())
	assert.Equal(t, "orders", a.Topic())

	// Concurrent first calls agree on one counter.
	var wg sync.WaitGroup
	got := make([]*Counter, 8)
	for i := range got {
		wg.Go(func() { got[i] = s.Sub(3, "users") })
	}
	wg.Wait()
	for _, c := range got {
		assert.Same(t, got[0], c)
	}

	// Another topic under a known id replaces the counter.
	b := s.Sub(1, "other")
	assert.NotSame(t, a, b)
	assert.Same(t, b, s.Sub(1, "other"))
}

func TestRemove(t *testing.T) {
	clk := newClock(t0)
	s := New(WithClock(clk.now))
	old := s.Sub(1, "orders")
	for range 3 {
		old.Push(false, false)
	}
	s.Sub(2, "orders").Push(true, false)
	s.Sub(3, "users").Push(true, true)

	s.Remove(1)
	s.Remove(99) // unknown: nothing happens
	old.Push(true, false)

	snap := s.Snapshot()
	require.Len(t, snap.Subscriptions, 2)
	assert.Equal(t, []int64{2, 3}, []int64{snap.Subscriptions[0].ID, snap.Subscriptions[1].ID})
	require.Len(t, snap.Topics, 2)
	assert.Equal(t, []int64{2}, snap.Topics[0].Subscriptions)
	assert.Equal(t, uint64(1), snap.Topics[0].Windows.M1.Pushes)

	// The removed subscription's counts stay in the overall totals, in every
	// window, and leave them only as time passes.
	assert.Equal(t, [5]uint64{5, 5, 5, 5, 5}, pushes(snap.Totals))
	assert.Equal(t, uint64(3), snap.Totals.D1.Failures)
	assert.Equal(t, uint64(5), snap.Total.Pushes)
	clk.advance(time.Minute)
	assert.Equal(t, [5]uint64{0, 0, 0, 5, 5}, pushes(s.Snapshot().Totals))

	// The id starts again from zero.
	fresh := s.Sub(1, "orders")
	assert.NotSame(t, old, fresh)
	assert.Equal(t, uint64(0), s.Snapshot().Subscriptions[0].Total.Pushes)
}

func TestConcurrentPushAddsUp(t *testing.T) {
	clk := newClock(t0)
	s := New(WithClock(clk.now))
	const subs, perSub, goroutines = 4, 2, 5000
	cs := make([]*Counter, subs)
	for i := range cs {
		cs[i] = s.Sub(int64(i+1), []string{"a", "b"}[i%2])
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	// The clock moves and snapshots are taken while pushes run, so buckets
	// roll over under contention. 200 × 250 ms stays inside one minute.
	wg.Go(func() {
		for range 200 {
			clk.advance(250 * time.Millisecond)
			_ = s.Snapshot()
		}
	})
	var pushers sync.WaitGroup
	for i := range subs * perSub {
		pushers.Go(func() {
			c := cs[i%subs]
			for j := range goroutines {
				c.Push(j%10 != 0, j%4 == 0)
			}
		})
	}
	go func() { pushers.Wait(); close(stop) }()
	<-stop
	wg.Wait()

	snap := s.Snapshot()
	const n = perSub * goroutines
	for _, st := range snap.Subscriptions {
		for name, w := range map[string]Window{"1m": st.Windows.M1, "1h": st.Windows.H1, "1d": st.Windows.D1, "total": st.Total} {
			assert.Equal(t, uint64(n), w.Pushes, "sub %d %s", st.ID, name)
			assert.Equal(t, uint64(n/10), w.Failures, "sub %d %s", st.ID, name)
			assert.Equal(t, uint64(n/4), w.Retries, "sub %d %s", st.ID, name)
		}
	}
	assert.Equal(t, uint64(subs*n), snap.Totals.M1.Pushes)
	assert.Equal(t, uint64(subs*n), snap.Total.Pushes)
	for _, tp := range snap.Topics {
		assert.Equal(t, uint64(subs/2*n), tp.Windows.D1.Pushes, tp.Topic)
	}
}

func TestPushAllocatesNothing(t *testing.T) {
	c := New().Sub(1, "orders")
	allocs := testing.AllocsPerRun(1000, func() {
		c.Push(true, false)
		c.Push(false, true)
	})
	assert.Zero(t, allocs)
}

func TestSnapshotSorted(t *testing.T) {
	s := New()
	for _, id := range []int64{9, 3, 5, 1} {
		s.Sub(id, map[int64]string{9: "zeta", 3: "alpha", 5: "zeta", 1: "mid"}[id]).Push(true, false)
	}
	snap := s.Snapshot()
	var ids []int64
	for _, st := range snap.Subscriptions {
		ids = append(ids, st.ID)
	}
	assert.Equal(t, []int64{1, 3, 5, 9}, ids)
	var topics []string
	for _, tp := range snap.Topics {
		topics = append(topics, tp.Topic)
	}
	assert.Equal(t, []string{"alpha", "mid", "zeta"}, topics)
	assert.Equal(t, []int64{5, 9}, snap.Topics[2].Subscriptions)
	assert.Equal(t, uint64(2), snap.Topics[2].Total.Pushes)
}

func TestEmptySnapshot(t *testing.T) {
	snap := New().Snapshot()
	assert.NotNil(t, snap.Topics)
	assert.NotNil(t, snap.Subscriptions)
	assert.Zero(t, snap.Total.Pushes)
}
