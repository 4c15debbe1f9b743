package window

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

// round ends one window's worth of pushes, all answered sig after lat,
// under a steady load: the window is kept full, every push that ends
// replaced by a new one.
func round(w *Window, sig Signal, lat time.Duration, now int64) []Change {
	var out []Change
	for range w.Limit() {
		fill(w)
		if ch := w.Leave(inFlight[w][0], sig, lat, now); ch.Changed {
			out = append(out, ch)
		}
		inFlight[w] = inFlight[w][1:]
	}
	fill(w)
	return out
}

// inFlight holds the epochs of the pushes round keeps in flight.
var inFlight = map[*Window][]uint32{}

// drain ends the pushes round keeps in flight, telling nothing.
func drain(w *Window) {
	for _, ep := range inFlight[w] {
		w.Leave(ep, Neutral, 0, 0)
	}
	delete(inFlight, w)
}

func fill(w *Window) {
	for {
		ep, ok := w.tryEnter()
		if !ok {
			return
		}
		inFlight[w] = append(inFlight[w], ep)
	}
}

func TestSlowStartDoublesUpToTheCeiling(t *testing.T) {
	w := New(20)
	want := []int{2, 4, 8, 16, 20, 20}
	for i, lim := range want {
		round(w, Success, 5*time.Millisecond, int64(i)*ms)
		if w.Limit() != lim {
			t.Fatalf("round %d: window %d, want %d", i, w.Limit(), lim)
		}
	}
}

func TestOneDecreasePerRound(t *testing.T) {
	w := New(64)
	for w.Limit() < 32 {
		round(w, Success, 5*time.Millisecond, 0)
	}
	chs := round(w, Unavailable, time.Millisecond, 0)
	if len(chs) != 1 || chs[0].Limit != 16 || chs[0].Reason != By503 {
		t.Fatalf("a round of 503s: %+v, want one decrease to 16 for 503", chs)
	}
	chs = round(w, Throttled, time.Millisecond, 0)
	if len(chs) != 1 || chs[0].Limit != 8 || chs[0].Reason != By429 {
		t.Fatalf("the next round of 429s: %+v, want one decrease to 8", chs)
	}
	for i := 0; i < 20 && w.Limit() > 1; i++ {
		if chs := round(w, Timeout, 0, 0); len(chs) > 1 {
			t.Fatalf("a round of time-outs decreased the window %d times", len(chs))
		}
	}
	if w.Limit() != 1 {
		t.Fatalf("window %d after rounds of time-outs, want 1", w.Limit())
	}
}

// grown returns a window under a ceiling of 100 grown to 16 in slow start
// (latency 5 ms).
func grown() *Window {
	w := New(100)
	for w.Limit() < 16 {
		round(w, Success, 5*time.Millisecond, 0)
	}
	return w
}

func TestAdditiveIncreaseAfterCongestion(t *testing.T) {
	w := grown()
	round(w, Timeout, 0, 0) // 8, slow start over
	for i, want := range []int{9, 10, 11} {
		round(w, Success, 5*time.Millisecond, 0)
		if w.Limit() != want {
			t.Fatalf("round %d: window %d, want %d", i, w.Limit(), want)
		}
	}
	// Above 2×floor+NearSlack but not congested: held.
	round(w, Success, 5*time.Millisecond+NearSlack+6*time.Millisecond, 0)
	if w.Limit() != 11 {
		t.Fatalf("window %d after a round of middling latency, want 11 (held)", w.Limit())
	}
}

func TestLatencyGradientDecreases(t *testing.T) {
	w := grown()
	chs := round(w, Success, 20*time.Millisecond+SlowSlack+time.Millisecond, 0)
	if len(chs) != 1 || chs[0].Limit != 8 || chs[0].Reason != ByLatency {
		t.Fatalf("a round of slow successes: %+v, want one decrease to 8 for latency", chs)
	}
}

func TestFloorForgetsOldLatencies(t *testing.T) {
	w := New(100)
	round(w, Success, time.Millisecond, 0)
	slow := 200 * time.Millisecond
	// Two floor periods later the fast latency is forgotten: the slow one
	// is the floor and grows the window again.
	now := 2*int64(FloorPeriod) + 2*ms
	w.floor(int64(slow), int64(FloorPeriod)+ms)
	before := w.Limit()
	round(w, Success, slow, now)
	if w.Limit() <= before {
		t.Fatalf("window %d after a round at the new floor, want more than %d", w.Limit(), before)
	}
}

func TestSetCeilingBoundsTheWindow(t *testing.T) {
	w := New(32)
	for w.Limit() < 32 {
		round(w, Success, 5*time.Millisecond, 0)
	}
	w.SetCeiling(5)
	if w.Limit() != 5 {
		t.Fatalf("window %d under a ceiling of 5", w.Limit())
	}
	w.SetCeiling(40)
	for range 10 {
		round(w, Success, 5*time.Millisecond, 0)
	}
	if w.Limit() != 40 {
		t.Fatalf("window %d after growing under a ceiling of 40", w.Limit())
	}
	w.Reset(1)
	if w.Limit() != 1 {
		t.Fatalf("window %d after Reset(1)", w.Limit())
	}
}

// TestEnterWaitsForRoom: never more pushes in flight than the window, and
// waiters go on as room frees.
func TestEnterWaitsForRoom(t *testing.T) {
	w := New(4)
	for w.Limit() < 4 {
		round(w, Success, time.Millisecond, 0)
	}
	drain(w)
	quit := make(chan struct{})
	var cur, peak, done atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				ep, ok := w.Enter(quit, nil)
				if !ok {
					return
				}
				n := cur.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(50 * time.Microsecond)
				cur.Add(-1)
				w.Leave(ep, Neutral, 0, 0)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if done.Load() != 16*50 || peak.Load() > 4 {
		t.Fatalf("%d pushes done (want %d), peak in flight %d (window 4)", done.Load(), 16*50, peak.Load())
	}
	if w.InFlight() != 0 {
		t.Fatalf("%d in flight at the end", w.InFlight())
	}
	// A full window and a closed quit: Enter gives up.
	w.SetCeiling(1)
	ep, _ := w.Enter(nil, nil)
	close(quit)
	if _, ok := w.Enter(quit, nil); ok {
		t.Fatal("Enter let a push into a full window")
	}
	w.Leave(ep, Neutral, 0, 0)
}

func TestNoAllocations(t *testing.T) {
	w := New(8)
	n := testing.AllocsPerRun(1000, func() {
		ep, _ := w.Enter(nil, nil)
		w.Leave(ep, Success, time.Millisecond, time.Now().UnixNano())
	})
	if n != 0 {
		t.Fatalf("%v allocations per push", n)
	}
}

// BenchmarkEnterLeave is the window's cost per push: one Enter and one
// Leave of a success, from parallel workers of one lane.
func BenchmarkEnterLeave(b *testing.B) {
	w := New(64)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		now := time.Now().UnixNano()
		for pb.Next() {
			ep, _ := w.Enter(nil, nil)
			w.Leave(ep, Success, time.Millisecond, now)
		}
	})
}
