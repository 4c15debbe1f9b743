package dispatch

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
	opened  bool // open was called
	closed  bool // close was called: never watched again
	full    bool // the queue reached high and has not come down to low
	idle    bool // nothing to reserve (a retry tube known to be empty)
	held    bool // its subscription's circuit breaker pushes nothing now
	watched bool // what the consumer was last told
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

// apply tells the consumer when the decision changed. Callers hold mu.
func (g *gate) apply() {
	want := g.opened && !g.closed && !g.full && !g.idle && !g.held
	if want == g.watched {
		return
	}
	g.watched = want
	if want {
		g.c.Watch(g.tube)
	} else {
		g.c.Ignore(g.tube)
	}
}

// open starts reserving from the tube.
func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.opened = true
	g.apply()
}

// close stops reserving for good.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.apply()
}

// setIdle ignores (true) or watches again (false) a tube with nothing to
// reserve: every watched tube costs beanstalkd work on every event.
func (g *gate) setIdle(idle bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.idle = idle
	g.apply()
}

// setHeld ignores (true) or watches again (false) the tube of a
// subscription whose circuit breaker stops (or lets go) its pushes.
func (g *gate) setHeld(held bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = held
	g.apply()
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
	case !g.full && n >= g.high:
		g.full = true
	case g.full && n <= g.low:
		g.full = false
	default:
		return
	}
	g.apply()
}
