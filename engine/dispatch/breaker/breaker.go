package breaker

import (
	"fmt"
	"sync/atomic"
	"time"
)

// State is a breaker's state; its numbers are the values of the
// medispatcher_breaker_state gauge.
type State int32

// The states.
const (
	Closed   State = iota // pushes go out
	Open                  // nothing is pushed until the cool-down has passed
	HalfOpen              // one push probes
	Disabled              // nothing is pushed until Reset
)

var stateNames = [...]string{"closed", "open", "half_open", "disabled"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int32(s))
}

// Outcome is what a push tells the breaker.
type Outcome uint8

// The outcomes.
const (
	Success   Outcome = iota // the subscriber took the message
	Failure                  // it answered, but not with success
	ConnError                // no answer: a connection error or a time-out
	Neutral                  // says nothing about the subscriber (our own fault, a pause it asked for)
)

// Config are a breaker's thresholds.
type Config struct {
	Window            time.Duration // the sliding window, in whole seconds (at least 1 s)
	MinPushes         int           // outcomes in the window before the share counts
	FailureShare      float64       // failures / outcomes in the window that open it (0 < share <= 1)
	ConsecutiveErrors int           // connection errors or time-outs in a row that open it (0: never)
	CoolDown          time.Duration // the first wait before a probe
	MaxCoolDown       time.Duration // the bound of the doubled wait
}

// Transition is a change of state that Record made; its zero value (To
// Closed, no Reason) means none. The caller announces it and, for Open,
// calls HalfOpen after CoolDown with Gen.
type Transition struct {
	From, To State
	Reason   string
	CoolDown time.Duration // for To == Open
	Gen      uint64        // for To == Open
}

// Changed reports whether t is a transition at all.
func (t Transition) Changed() bool { return t.Reason != "" }

// Breaker is one subscription's circuit breaker. Its methods are safe for
// concurrent use by the subscription's push workers.
type Breaker struct {
	cfg     Config
	state   atomic.Int32
	probing atomic.Bool  // half-open: the probe is out
	consec  atomic.Int32 // connection errors and time-outs in a row
	cool    atomic.Int64 // the last cool-down (ns)
	gen     atomic.Uint64
	win     window
}

// New builds a closed breaker.
func New(cfg Config) *Breaker {
	cfg.Window = max(cfg.Window, time.Second)
	cfg.CoolDown = max(cfg.CoolDown, time.Millisecond)
	cfg.MaxCoolDown = max(cfg.MaxCoolDown, cfg.CoolDown)
	cfg.MinPushes = max(cfg.MinPushes, 1)
	b := &Breaker{cfg: cfg, win: newWindow(int((cfg.Window + time.Second - 1) / time.Second))}
	return b
}

// State is the current state.
func (b *Breaker) State() State { return State(b.state.Load()) }

// Acquire asks to push now. A closed breaker always lets the push go; a
// half-open one lets exactly one go, the probe (probe true), whose outcome
// must be recorded (Record, or Abandon when it was not pushed after all).
func (b *Breaker) Acquire() (ok, probe bool) {
	switch State(b.state.Load()) {
	case Closed:
		return true, false
	case HalfOpen:
		if b.probing.CompareAndSwap(false, true) {
			return true, true
		}
	}
	return false, false
}

// Blocked reports whether Acquire would refuse a push now.
func (b *Breaker) Blocked() bool {
	switch State(b.state.Load()) {
	case Closed:
		return false
	case HalfOpen:
		return b.probing.Load()
	}
	return true
}

// Record counts a push's outcome, ended at now (unix ns); probe is what
// Acquire said of it. It returns the transition it made, if any: a
// closed breaker opens on the window's share or the consecutive errors; a
// probe's success closes it, its failure opens it again with the cool-down
// doubled (up to MaxCoolDown). A push that began before the breaker opened
// is counted but changes nothing.
func (b *Breaker) Record(o Outcome, probe bool, now int64) Transition {
	if o == Neutral {
		if probe {
			b.Abandon()
		}
		return Transition{}
	}
	if probe {
		return b.probed(o)
	}
	b.win.add(now, o != Success)
	if o == Success {
		if b.consec.Load() != 0 {
			b.consec.Store(0)
		}
		return Transition{}
	}
	n := int32(0)
	if o == ConnError {
		n = b.consec.Add(1)
	} else if b.consec.Load() != 0 {
		b.consec.Store(0)
	}
	if State(b.state.Load()) != Closed {
		return Transition{}
	}
	if c := b.cfg.ConsecutiveErrors; c > 0 && int(n) >= c {
		return b.open(Closed, fmt.Sprintf("%d connection errors or time-outs in a row", n), b.cfg.CoolDown)
	}
	total, fails := b.win.sum(now)
	if total >= b.cfg.MinPushes && float64(fails) >= b.cfg.FailureShare*float64(total) {
		return b.open(Closed, fmt.Sprintf("%d of %d pushes failed within %s", fails, total, b.cfg.Window), b.cfg.CoolDown)
	}
	return Transition{}
}

// probed settles the half-open breaker's probe.
func (b *Breaker) probed(o Outcome) Transition {
	if o == Success {
		if !b.state.CompareAndSwap(int32(HalfOpen), int32(Closed)) {
			return Transition{}
		}
		b.clear()
		return Transition{From: HalfOpen, To: Closed, Reason: "the probe succeeded"}
	}
	cool := min(2*time.Duration(b.cool.Load()), b.cfg.MaxCoolDown)
	return b.open(HalfOpen, "the probe failed", cool)
}

// open moves from to Open with a cool-down; it reports no transition when
// another goroutine changed the state first.
func (b *Breaker) open(from State, reason string, cool time.Duration) Transition {
	if !b.state.CompareAndSwap(int32(from), int32(Open)) {
		return Transition{}
	}
	b.cool.Store(int64(cool))
	b.probing.Store(false)
	return Transition{From: from, To: Open, Reason: reason, CoolDown: cool, Gen: b.gen.Add(1)}
}

// HalfOpen ends the cool-down of the opening gen: the next push probes.
// It reports false when the breaker was reset or opened again meanwhile.
func (b *Breaker) HalfOpen(gen uint64) bool {
	if b.gen.Load() != gen {
		return false
	}
	b.probing.Store(false)
	return b.state.CompareAndSwap(int32(Open), int32(HalfOpen))
}

// Abandon gives the probe back without an outcome (it was not pushed, or
// its outcome said nothing about the subscriber): the next push probes.
func (b *Breaker) Abandon() { b.probing.Store(false) }

// Disable stops every push until Reset; it reports the state it left
// (Disabled when it already was).
func (b *Breaker) Disable() State {
	b.gen.Add(1) // a pending cool-down ends nothing
	return State(b.state.Swap(int32(Disabled)))
}

// Reset closes the breaker with a clean window, whatever its state; it
// reports the state it left.
func (b *Breaker) Reset() State {
	b.gen.Add(1)
	old := State(b.state.Swap(int32(Closed)))
	b.clear()
	return old
}

// clear forgets the window, the errors in a row, the cool-down and the
// probe.
func (b *Breaker) clear() {
	b.win.clear()
	b.consec.Store(0)
	b.cool.Store(0)
	b.probing.Store(false)
}
