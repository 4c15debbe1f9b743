package dispatch

import (
	"time"

	"medispatcher/engine/dispatch/subs"
)

// params are a subscription's effective settings: its own where it sets
// them, the engine's defaults otherwise, the timeout bounded by MaxTimeout.
type params struct {
	sub         *subs.Subscription
	timeout     time.Duration
	concurrency int
	retryConc   int
	interval    time.Duration
	// breaker: the circuit breaker counts this subscription's pushes
	// (its circuit_breaker, or the daemon's CircuitBreaker when empty).
	breaker bool
	// window: the lanes' adaptive push windows limit the pushes in flight
	// (its adaptive_window, or the daemon's AdaptiveWindow when empty).
	window bool
}

func (e *Engine) resolve(s *subs.Subscription) *params {
	p := &params{sub: s, timeout: e.opts.DefaultTimeout, concurrency: s.Concurrency,
		retryConc: s.RetryConcurrency, interval: e.opts.Interval,
		breaker: s.CircuitBreaker == subs.BreakerOn || (s.CircuitBreaker == "" && e.opts.Breaker.On),
		window:  s.AdaptiveWindow == subs.WindowOn || (s.AdaptiveWindow == "" && e.opts.AdaptiveWindow)}
	if s.TimeoutMS > 0 {
		p.timeout = time.Duration(s.TimeoutMS) * time.Millisecond
	}
	if p.timeout > e.opts.MaxTimeout {
		p.timeout = e.opts.MaxTimeout
	}
	if p.concurrency <= 0 {
		p.concurrency = e.opts.DefaultConcurrency
	}
	if p.retryConc <= 0 {
		p.retryConc = e.opts.DefaultRetryConcurrency
	}
	if s.IntervalMS > 0 {
		p.interval = time.Duration(s.IntervalMS) * time.Millisecond
	}
	return p
}
