package window

import "time"

// Reason is why the window was decreased.
type Reason uint8

const (
	NoReason Reason = iota
	ByTimeout
	By429
	By503
	ByLatency
	// Reasons bounds the values, for arrays indexed by Reason.
	Reasons
)

var reasonNames = [Reasons]string{"", "timeout", "429", "503", "latency"}

func (r Reason) String() string { return reasonNames[r] }

// Change is what a Leave did to the window: Limit is the new window when
// Changed; Reason says why when it was a decrease.
type Change struct {
	Changed bool
	Limit   int
	Reason  Reason
}

// Leave ends a push that Enter let in (epoch: what Enter returned) with
// its signal and latency, now being the time it ended (unix ns).
func (w *Window) Leave(epoch uint32, sig Signal, latency time.Duration, now int64) Change {
	busy := w.inflight.Add(-1) + 1
	var ch Change
	switch sig {
	case Success:
		ch = w.success(epoch, busy, int64(latency), now)
	case Timeout:
		ch = w.decrease(epoch, ByTimeout)
	case Throttled:
		ch = w.decrease(epoch, By429)
	case Unavailable:
		ch = w.decrease(epoch, By503)
	}
	if w.waiters.Load() > 0 {
		signal(w)
	}
	return ch
}

// success counts a success for the round, or decreases the window when it
// was slow enough to show congestion; busy is how many pushes were in
// flight, this one included.
func (w *Window) success(epoch uint32, busy int32, lat, now int64) Change {
	floor := w.floor(lat, now)
	if lat > 4*floor+int64(SlowSlack) {
		return w.decrease(epoch, ByLatency)
	}
	s := w.state.Load()
	if congestedOf(s) && lat > 2*floor+int64(NearSlack) {
		return Change{} // neither near the floor nor congested: hold
	}
	lim := limitOf(s)
	if 2*busy < lim {
		return Change{} // the window is not used: its size proves nothing
	}
	if w.acked.Add(1) < lim {
		return Change{}
	}
	w.acked.Store(0) // the round is over
	next := lim + 1
	if !congestedOf(s) {
		next = 2 * lim
	}
	next = min(next, w.ceiling.Load())
	if next <= lim || !w.state.CompareAndSwap(s, pack(epochOf(s)+1, congestedOf(s), next)) {
		return Change{}
	}
	return Change{Changed: true, Limit: int(next)}
}

// decrease halves the window for a congestion signal from a push that
// began in the current epoch; it always ends slow start.
func (w *Window) decrease(epoch uint32, why Reason) Change {
	s := w.state.Load()
	if epochOf(s) != epoch {
		return Change{} // already answered, or the window grew since
	}
	lim := limitOf(s)
	next := max(lim/2, 1)
	if !w.state.CompareAndSwap(s, pack(epoch+1, true, next)) {
		return Change{}
	}
	w.acked.Store(0)
	if next == lim {
		return Change{}
	}
	return Change{Changed: true, Limit: int(next), Reason: why}
}

// floor folds a success's latency into the floor and returns the floor.
func (w *Window) floor(lat, now int64) int64 {
	start := w.floorStart.Load()
	if now-start > int64(FloorPeriod) && w.floorStart.CompareAndSwap(start, now) {
		w.floorPrev.Store(w.floorCur.Load())
		w.floorCur.Store(lat)
	} else {
		for {
			cur := w.floorCur.Load()
			if (cur != 0 && cur <= lat) || w.floorCur.CompareAndSwap(cur, lat) {
				break
			}
		}
	}
	f := w.floorCur.Load()
	if p := w.floorPrev.Load(); p > 0 && (f == 0 || p < f) {
		f = p
	}
	return max(f, 1)
}
