package window

import (
	"sync/atomic"
	"time"
)

// maxLimit bounds the window: it is kept in 16 bits of the state word.
const maxLimit = 1<<16 - 1

// The latency thresholds (see the package comment).
const (
	// NearSlack is what a success's latency may exceed twice the floor by
	// and still count for the additive increase.
	NearSlack = 10 * time.Millisecond
	// SlowSlack is what a success's latency must exceed four times the
	// floor by to be a congestion signal.
	SlowSlack = 50 * time.Millisecond
	// FloorPeriod is how long a lowest latency stays the floor: the floor
	// is the least of the current and the previous period.
	FloorPeriod = 10 * time.Second
)

// Signal is what a push's outcome tells the window.
type Signal uint8

const (
	Neutral     Signal = iota // no information (other failures, no push)
	Success                   // answered 200
	Timeout                   // no answer within the push's timeout
	Throttled                 // answered 429
	Unavailable               // answered 503
)

// Window is one lane's adaptive push window. The zero value is not usable:
// call New.
type Window struct {
	// state is the window's epoch (high 32 bits, bumped on every change
	// of the limit), the end of slow start (bit 16) and the limit (low 16
	// bits), so that a change is one compare-and-swap.
	state    atomic.Uint64
	ceiling  atomic.Int32
	inflight atomic.Int32
	// acked counts the successes of the current round.
	acked atomic.Int32
	// floorCur and floorPrev are the lowest latencies (ns, 0 = none) of
	// the current and the previous floor period, which began at floorStart.
	floorCur, floorPrev, floorStart atomic.Int64
	waiters                         atomic.Int32
	wake                            chan struct{}
}

const congestedBit = 1 << 16

func pack(epoch uint32, congested bool, limit int32) uint64 {
	s := uint64(epoch)<<32 | uint64(uint16(limit))
	if congested {
		s |= congestedBit
	}
	return s
}

func epochOf(s uint64) uint32   { return uint32(s >> 32) }
func limitOf(s uint64) int32    { return int32(uint16(s)) }
func congestedOf(s uint64) bool { return s&congestedBit != 0 }
func clampCeiling(n int) int32  { return int32(min(max(n, 1), maxLimit)) }

// New returns a window in slow start at 1 under ceiling.
func New(ceiling int) *Window {
	w := &Window{wake: make(chan struct{}, 1)}
	w.ceiling.Store(clampCeiling(ceiling))
	w.state.Store(pack(0, false, 1))
	return w
}

// Limit is the current window.
func (w *Window) Limit() int { return int(limitOf(w.state.Load())) }

// Ceiling is the configured concurrency the window stays under.
func (w *Window) Ceiling() int { return int(w.ceiling.Load()) }

// InFlight counts the pushes between Enter and Leave.
func (w *Window) InFlight() int { return int(w.inflight.Load()) }

// SetCeiling changes the ceiling (a live change of the concurrency); a
// window above it comes down to it at once.
func (w *Window) SetCeiling(n int) {
	c := clampCeiling(n)
	w.ceiling.Store(c)
	for {
		s := w.state.Load()
		if limitOf(s) <= c || w.state.CompareAndSwap(s, pack(epochOf(s)+1, congestedOf(s), c)) {
			break
		}
	}
	signal(w)
}

// Reset starts the window again at start (bounded by the ceiling), in slow
// start with no latency floor, as a new subscription's.
func (w *Window) Reset(start int) {
	c := min(clampCeiling(start), w.ceiling.Load())
	for {
		s := w.state.Load()
		if w.state.CompareAndSwap(s, pack(epochOf(s)+1, false, c)) {
			break
		}
	}
	w.acked.Store(0)
	w.floorCur.Store(0)
	w.floorPrev.Store(0)
	signal(w)
}
