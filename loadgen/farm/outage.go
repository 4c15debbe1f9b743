package farm

import (
	"sync/atomic"
	"time"
)

// outage is the state of a class whose subscribers refuse connections for
// a while (Profile.Outage): its own port, and when it went down, came up
// again and first took a message after that (unix ns, 0: not yet).
type outage struct {
	ln                    *flipListener
	downAt, upAt, firstAt atomic.Int64
	timers                []*time.Timer
}

// Edge is a class's port going down or coming up again.
type Edge struct {
	Class int
	Down  bool // false: up again
	At    time.Time
}

// Outage is what the farm saw of one class's outage.
type Outage struct {
	Class int
	Name  string
	// Down and Up are when the port stopped and started listening
	// again, FirstDelivery when a message push was first answered with
	// success after that; zero when it did not happen (yet).
	Down, Up, FirstDelivery time.Time
}

// Recovery is the time from the port's coming up again to its first
// delivery; false without both.
func (o Outage) Recovery() (time.Duration, bool) {
	if o.Up.IsZero() || o.FirstDelivery.IsZero() {
		return 0, false
	}
	return o.FirstDelivery.Sub(o.Up), true
}

// startOutages arms the outages of every class, counted from start: the
// run's start as the farm knows it.
func (f *Farm) startOutages(start time.Time) {
	f.outageMu.Lock()
	defer f.outageMu.Unlock()
	if f.outagesStarted || f.closing {
		return
	}
	f.outagesStarted = true
	for _, c := range f.classes {
		if c.out == nil {
			continue
		}
		down := time.Until(start.Add(c.p.OutageStart.D()))
		up := down + c.p.Outage.D()
		c.out.timers = append(c.out.timers,
			time.AfterFunc(down, func() { f.takeDown(c) }),
			time.AfterFunc(up, func() { f.bringUp(c) }))
	}
}

// stopOutages stops the outage timers (Close): no port flips afterwards.
func (f *Farm) stopOutages() {
	f.outageMu.Lock()
	defer f.outageMu.Unlock()
	f.closing = true
	for _, c := range f.classes {
		if c.out != nil {
			for _, t := range c.out.timers {
				t.Stop()
			}
		}
	}
}

func (f *Farm) takeDown(c *class) {
	if err := c.out.ln.down(); err != nil {
		f.log.Error("farm outage", "class", c.p.Name, "err", err)
	}
	at := time.Now()
	c.out.downAt.Store(at.UnixNano())
	f.edge(Edge{Class: c.idx, Down: true, At: at})
}

// bringUp listens on the class's port again, trying for a while should the
// port still be held.
func (f *Farm) bringUp(c *class) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.out.ln.reopen()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.log.Error("farm outage: port stays down", "class", c.p.Name, "err", err)
			return
		}
		time.Sleep(50 * time.Millisecond) // no signal when a port is released
	}
	at := time.Now()
	c.out.upAt.Store(at.UnixNano())
	f.edge(Edge{Class: c.idx, Down: false, At: at})
}

// edge passes e on to OutageEdges without ever blocking the flip.
func (f *Farm) edge(e Edge) {
	select {
	case f.edges <- e:
	default:
	}
}

// OutageEdges receives each class's port going down and coming up again
// (two edges per class with an outage, in time order).
func (f *Farm) OutageEdges() <-chan Edge { return f.edges }

// delivered notes the first successful answer after the port came up.
func (o *outage) delivered() {
	if o.upAt.Load() != 0 && o.firstAt.Load() == 0 {
		o.firstAt.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// Outages returns what the farm saw of each class with an outage.
func (f *Farm) Outages() []Outage {
	var out []Outage
	for _, c := range f.classes {
		if c.out == nil {
			continue
		}
		out = append(out, Outage{Class: c.idx, Name: c.p.Name,
			Down: unixTime(c.out.downAt.Load()), Up: unixTime(c.out.upAt.Load()), FirstDelivery: unixTime(c.out.firstAt.Load())})
	}
	return out
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
