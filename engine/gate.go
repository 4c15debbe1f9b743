package engine

import (
	"sync"

	"medispatcher/connpool"
)

// gate turns a queue's length into Watch/Ignore of its tube: above high the
// tube is ignored (no more reserves), at or below low it is watched again.
// Its mutex belongs to one tube, so gates of different subscriptions never
// contend; it also keeps the order of Watch and Ignore calls equal to the
// order of the decisions, so a tube is never left ignored by a race.
type gate struct {
	c         *connpool.Consumer
	tube      string
	high, low int

	mu      sync.Mutex
	watched bool
	closed  bool
}

func newGate(c *connpool.Consumer, tube string, high, low int) *gate {
	if high < 1 {
		high = 1
	}
	if low >= high {
		low = high - 1
	}
	return &gate{c: c, tube: tube, high: high, low: low}
}

// open starts reserving from the tube.
func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.watched && !g.closed {
		g.watched = true
		g.c.Watch(g.tube)
	}
}

// close stops reserving for good.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if g.watched {
		g.watched = false
		g.c.Ignore(g.tube)
	}
}

// setLimits changes the watermarks (live concurrency changes).
func (g *gate) setLimits(high, low int) {
	g.mu.Lock()
	if high < 1 {
		high = 1
	}
	if low >= high {
		low = high - 1
	}
	g.high, g.low = high, low
	g.mu.Unlock()
}

// observe is called after the queue length changed.
func (g *gate) observe(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
	case g.watched && n >= g.high:
		g.watched = false
		g.c.Ignore(g.tube)
	case !g.watched && n <= g.low:
		g.watched = true
		g.c.Watch(g.tube)
	}
}
