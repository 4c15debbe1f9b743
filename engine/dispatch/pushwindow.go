package dispatch

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/VictoriaMetrics/metrics"

	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/dispatch/window"
)

// Adaptive push window (Options.AdaptiveWindow, a subscription's
// adaptive_window): a subscription has one window (package window) of
// pushes that may be in flight, shared by its channel and retry lanes
// (the subscriber's capacity is one: two windows would each fill it),
// between 1 and the sum of their concurrencies; each lane also stays
// within its own concurrency (its workers), which remains the ceiling. A
// worker takes room in the window with a job in hand, right before the
// push (an idle worker holding room would starve the other lane), and
// gives it back once the job is settled, telling the window what the push
// showed: its latency, a time-out, a 429 or a 503. The gate's watermarks
// follow the window (not the concurrency), so a small window keeps only a
// few jobs reserved; a direct copy (cut-through) is taken only while the
// lane holds fewer jobs than the window. A 429 or 503 with Retry-After
// still pauses the subscription (backoff.go) and the circuit breaker still
// counts every outcome: the window narrows, the pause waits, the breaker
// stops a subscriber that fails too often.
//
// Off, nothing of this runs: the lane pushes at its concurrency, as 2.x.

// windowOn reports whether l's pushes are limited by its window now.
func (l *lane) windowOn() bool { return l.r.params.Load().window }

// limit is how many jobs the lane holds at most in flight: its workers, or
// its window when that is on and smaller.
func (l *lane) limit() int32 {
	n := l.slots.Load()
	if l.windowOn() {
		if w := int32(l.r.win.Limit()); w < n {
			return w
		}
	}
	return n
}

// setGateLimits makes the gate's watermarks follow the lane's limit.
func (l *lane) setGateLimits() {
	if n := l.limit(); n > 0 {
		l.gate.setLimits(watermarks(int(n)))
	}
}

// enter waits for room in the lane's window when it is on; it reports
// false when the worker must stop instead.
func (w *worker) enter(quit chan struct{}) bool {
	l := w.l
	if !l.windowOn() {
		return true
	}
	ep, ok := l.r.win.Enter(quit, l.r.e.quit)
	w.epoch, w.entered = ep, ok
	return ok
}

// leave gives back the room enter took, with what the push in hand
// showed (w.sig, Neutral when nothing was pushed).
func (w *worker) leave() {
	if !w.entered {
		return
	}
	l := w.l
	ch := l.r.win.Leave(w.epoch, w.sig, w.res.Elapsed, w.lastRun.UnixNano()+int64(w.res.Elapsed))
	w.entered, w.sig = false, window.Neutral
	if !ch.Changed {
		return
	}
	if ch.Reason != window.NoReason {
		l.r.winDecreases[ch.Reason].Inc()
	}
	l.r.main.setGateLimits()
	l.r.retry.setGateLimits()
}

// windowCeiling sets the shared window's ceiling to the lanes' workers
// together (a resize) and the gates' watermarks to what follows.
func (r *runner) windowCeiling() {
	if r.main == nil || r.retry == nil {
		return
	}
	if n := r.main.slots.Load() + r.retry.slots.Load(); n > 0 {
		r.win.SetCeiling(int(n))
	}
	r.main.setGateLimits()
	r.retry.setGateLimits()
}

// windowSignal is what a push's result tells the window.
func windowSignal(res *push.Result) window.Signal {
	switch {
	case res.OK:
		return window.Success
	case res.Kind == push.Timeout:
		return window.Timeout
	case res.Kind == push.HTTPStatus && res.Status == http.StatusTooManyRequests:
		return window.Throttled
	case res.Kind == push.HTTPStatus && res.Status == http.StatusServiceUnavailable:
		return window.Unavailable
	}
	return window.Neutral
}

// windowStart is where a subscription's window starts (below a smaller
// ceiling): in slow start, it grows only while it is used, so a lightly
// used subscription would otherwise stay at 1 or 2 and push the copies
// that arrive together one after the other; until the subscriber first
// signals congestion it may have this many in flight.
const windowStart = 4

// switchWindow restarts the subscription's window when its
// adaptive_window turned on (at windowStart, in slow start) or off (open to the
// concurrency, waking any worker still waiting in it).
func (r *runner) switchWindow(on bool) {
	w := r.win
	if on {
		w.Reset(windowStart)
	} else {
		w.Reset(w.Ceiling())
	}
}

// windowMetrics registers the subscription's window series
// (medispatcher_push_window per lane: the pushes it may have in flight,
// its concurrency when the window is off;
// medispatcher_push_window_decreases_total per reason) with its other
// series, so they go when it is cancelled.
func (r *runner) windowMetrics() {
	l := fmt.Sprintf(`{sub="%d",topic=%s`, r.id, strconv.Quote(r.topic))
	for _, ln := range [2]*lane{r.main, r.retry} {
		name := "channel"
		if ln.retry {
			name = "retry"
		}
		gauge := "medispatcher_push_window" + l + `,lane="` + name + `"}`
		// A gauge left by an engine that stopped without releasing it (only
		// tests build several) would read that engine's lane.
		metrics.UnregisterMetric(gauge)
		metrics.GetOrCreateGauge(gauge, func() float64 { return float64(ln.limit()) })
		r.m.names = append(r.m.names, gauge)
	}
	for why := window.NoReason + 1; why < window.Reasons; why++ {
		name := "medispatcher_push_window_decreases_total" + l + `,reason="` + why.String() + `"}`
		r.winDecreases[why] = metrics.GetOrCreateCounter(name)
		r.m.names = append(r.m.names, name)
	}
}

// PushWindow is subscription id's current push window on its channel and
// retry lanes (each lane's concurrency when its window is off); ok is
// false when it is not loaded.
func (e *Engine) PushWindow(id int64) (channel, retry int, ok bool) {
	if r := e.state.Load().runners[id]; r != nil {
		return int(r.main.limit()), int(r.retry.limit()), true
	}
	return 0, 0, false
}
