package farm

import (
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// A class with a capacity (Profile.OverloadAt, SlowAt) models a subscriber
// with only so many workers. Each subscription counts the message pushes
// it has in flight, the one arriving included: one that finds more than
// SlowAt takes SlowLatency longer than the class's latency, one that finds
// more than OverloadAt is answered 503 at once, without a Retry-After, as
// an overloaded web server's front end does. Probes are neither counted
// nor turned away.

// validateCapacity checks the capacity fields: none negative, slow_at and
// slow_latency together, slowing below the overload (beyond overload_at
// every push is turned away, so a slow_at there would never apply), and
// never on a dead class, which answers nothing.
func (p *Profile) validateCapacity() error {
	switch {
	case p.OverloadAt < 0 || p.SlowAt < 0 || p.SlowLatency < 0:
		return fmt.Errorf("profile %q: negative overload_at, slow_at or slow_latency", p.Name)
	case (p.SlowAt > 0) != (p.SlowLatency > 0):
		return fmt.Errorf("profile %q: slow_at and slow_latency go together", p.Name)
	case p.OverloadAt > 0 && p.SlowAt >= p.OverloadAt:
		return fmt.Errorf("profile %q: slow_at %d must be below overload_at %d", p.Name, p.SlowAt, p.OverloadAt)
	case p.Dead && p.HasCapacity():
		return fmt.Errorf("profile %q: a dead class cannot have a capacity", p.Name)
	}
	return nil
}

// HasCapacity reports whether the class's subscribers turn pushes away or
// slow down beyond a number in flight.
func (p *Profile) HasCapacity() bool { return p.OverloadAt > 0 || p.SlowAt > 0 }

// overloaded reports whether a push that finds n in flight (itself
// included) is turned away.
func (p *Profile) overloaded(n int64) bool { return p.OverloadAt > 0 && n > int64(p.OverloadAt) }

// slowdown is the extra latency of a push that finds n in flight (itself
// included).
func (p *Profile) slowdown(n int64) time.Duration {
	if p.SlowAt > 0 && n > int64(p.SlowAt) {
		return p.SlowLatency.D()
	}
	return 0
}

// turnAway answers a push beyond the subscription's capacity: 503 at once,
// counted as a failure the farm answered on purpose.
func (f *Farm) turnAway(ctx *fasthttp.RequestCtx, st *subState) {
	st.mu.Lock()
	st.failed++
	st.overloaded++
	st.mu.Unlock()
	f.failed.Add(1)
	ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
}
