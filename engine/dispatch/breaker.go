package dispatch

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"medispatcher/engine/dispatch/breaker"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/dispatch/subs"
)

// Circuit breaker (Options.Breaker, a subscription's circuit_breaker): a
// subscription whose pushes fail too often, or whose subscriber does not
// answer several times in a row, stops pushing for a cool-down. While its
// breaker is open (or disabled) both its lanes' tubes are ignored, so
// nothing more is reserved; jobs already in a lane are given back to their
// tube untouched (no push, no retry spent) and cut-through hands it no
// direct copy, so its messages wait in its channel tube and its retries in
// its retry tube. After the cool-down both tubes are watched again and the
// first job a worker takes is the probe, the only push in flight (the
// tubes are ignored again while it is out); its success closes the
// breaker, its failure opens it again for twice the cool-down (up to
// MaxCoolDown).
//
// What counts: a success, a failure (an answer other than success), a
// connection error or time-out (a failure that also counts in a row). What
// does not: a message that cannot be encoded, a push cancelled by our own
// stop, a URL that cannot be pushed to, and an answer with Retry-After,
// whose pause the subscription already keeps (backoff.go).
//
// Standard mode (signing secrets): an answer 410 Gone disables the
// subscription's breaker whether breakers are on or not: nothing is pushed
// or probed until the subscription changes in its source (update resets
// the breaker) or the daemon restarts. The message in hand goes back to
// its tube as it was.

// Alert kinds the engine raises through Deps.SubAlert.
const (
	AlertBreakerOpen      = "breaker_open"      // a subscription's breaker opened
	AlertBreakerClosed    = "breaker_closed"    // it closed again
	AlertSubscriptionGone = "subscription_gone" // a signed subscription answered 410 Gone: disabled
)

// runnerBreaker is a runner's circuit breaker and what announces it.
type runnerBreaker struct {
	*breaker.Breaker
	mu    sync.Mutex // orders the lanes' hold decisions; guards timer
	timer *time.Timer
	to    [4]*metrics.Counter // transitions by the state entered
}

func (e *Engine) newBreaker() *breaker.Breaker {
	o := e.opts.Breaker
	return breaker.New(breaker.Config{Window: o.Window, MinPushes: o.MinPushes, FailureShare: o.FailureShare,
		ConsecutiveErrors: o.ConsecutiveErrors, CoolDown: o.CoolDown, MaxCoolDown: o.MaxCoolDown})
}

// breakerMetrics registers the subscription's breaker series
// (medispatcher_breaker_state, medispatcher_breaker_transitions_total)
// with its other series, so they go when it is cancelled.
func (r *runner) breakerMetrics() {
	l := fmt.Sprintf(`{sub="%d",topic=%s`, r.id, strconv.Quote(r.topic))
	gauge := "medispatcher_breaker_state" + l + "}"
	// A gauge left by an engine that stopped without releasing it (only
	// tests build several) would read that engine's breaker.
	metrics.UnregisterMetric(gauge)
	metrics.GetOrCreateGauge(gauge, func() float64 { return float64(r.br.State()) })
	r.m.names = append(r.m.names, gauge)
	for st := breaker.Closed; st <= breaker.Disabled; st++ {
		name := "medispatcher_breaker_transitions_total" + l + `,to="` + st.String() + `"}`
		r.br.to[st] = metrics.GetOrCreateCounter(name)
		r.m.names = append(r.m.names, name)
	}
}

// outcome is what a push's result tells the breaker.
func outcome(res *push.Result) breaker.Outcome {
	switch {
	case res.OK:
		return breaker.Success
	case res.RetryAfter > 0:
		return breaker.Neutral
	}
	switch res.Kind {
	case push.Timeout, push.Connection:
		return breaker.ConnError
	case push.HTTPStatus, push.BadAnswer:
		return breaker.Failure
	}
	return breaker.Neutral
}

// gone reports whether res is the 410 Gone of a subscription in standard
// mode (signing secrets), which disables it.
func gone(res *push.Result, s *subs.Subscription) bool {
	return res.Kind == push.HTTPStatus && res.Status == http.StatusGone && len(s.SigningKeys()) > 0
}

// acquire asks the breaker for a push; a probe holds the lanes while it
// is out.
func (r *runner) acquire() (ok, probe bool) {
	ok, probe = r.br.Acquire()
	if probe {
		r.syncGates()
	}
	return ok, probe
}

// pushed tells the breaker a push's outcome (end: when it ended, unix ns);
// it reports true when the push disabled the subscription (gone), whose
// message then goes back to its tube.
func (r *runner) pushed(res *push.Result, p *params, probe bool, end int64) bool {
	if gone(res, p.sub) {
		if probe {
			r.br.Abandon()
		}
		r.disable(p.sub, res.Status)
		return true
	}
	if !p.breaker && !probe {
		return false
	}
	o := outcome(res)
	t := r.br.Record(o, probe, end)
	switch {
	case t.Changed():
		r.transition(t, p.sub)
	case probe && o == breaker.Neutral:
		r.syncGates() // the next job probes
	}
	return false
}

// syncGates holds both lanes (their tubes ignored) while the breaker
// refuses pushes, and lets them go otherwise. Every change of state calls
// it afterwards, so the last call sees the last state.
func (r *runner) syncGates() {
	r.br.mu.Lock()
	defer r.br.mu.Unlock()
	held := r.br.Blocked()
	r.main.gate.setHeld(held)
	r.retry.gate.setHeld(held)
}

// transition announces a change Record made and, for an opening, starts
// the cool-down.
func (r *runner) transition(t breaker.Transition, s *subs.Subscription) {
	r.br.to[t.To].Inc()
	r.syncGates()
	if t.To == breaker.Open {
		r.coolDown(t)
		r.e.log.Warn("circuit breaker open: the subscription pushes nothing until a probe succeeds",
			"sub", r.id, "topic", r.topic, "reason", t.Reason, "cool_down", t.CoolDown)
		if t.From == breaker.Closed { // a failed probe is logged, not alerted again
			r.alert(s, AlertBreakerOpen, fmt.Sprintf("circuit breaker open (%s): nothing is pushed, the first probe in %s",
				t.Reason, t.CoolDown))
		}
		return
	}
	r.e.log.Info("circuit breaker closed: the subscription pushes again", "sub", r.id, "topic", r.topic, "reason", t.Reason)
	r.alert(s, AlertBreakerClosed, "circuit breaker closed ("+t.Reason+"): pushing again")
}

// coolDown makes the breaker half-open once t's cool-down has passed.
func (r *runner) coolDown(t breaker.Transition) {
	r.br.mu.Lock()
	defer r.br.mu.Unlock()
	if r.br.timer != nil {
		r.br.timer.Stop()
	}
	r.br.timer = time.AfterFunc(t.CoolDown, func() {
		if r.br.HalfOpen(t.Gen) {
			r.br.to[breaker.HalfOpen].Inc()
			r.e.log.Info("circuit breaker half-open: the next push probes", "sub", r.id, "topic", r.topic)
			r.syncGates()
		}
	})
}

// disable stops the subscription's pushes until it changes (410 Gone in
// standard mode).
func (r *runner) disable(s *subs.Subscription, status int) {
	if r.br.Disable() == breaker.Disabled {
		return
	}
	r.br.to[breaker.Disabled].Inc()
	r.stopCoolDown()
	r.syncGates()
	r.e.log.Warn("subscriber answered 410 Gone: subscription disabled until it changes in its source or the daemon restarts",
		"sub", r.id, "topic", r.topic, "status", status)
	r.alert(s, AlertSubscriptionGone, "the subscriber answered 410 Gone: subscription disabled until it changes in its source or the daemon restarts")
}

// resetBreaker closes the breaker when the subscription changed: whatever
// failed may have been fixed (a disabled subscription is enabled again).
func (r *runner) resetBreaker(s *subs.Subscription) {
	old := r.br.Reset()
	r.stopCoolDown()
	r.syncGates()
	if old == breaker.Closed {
		return
	}
	r.br.to[breaker.Closed].Inc()
	r.e.log.Info("circuit breaker closed: the subscription changed", "sub", r.id, "topic", r.topic, "was", old.String())
	r.alert(s, AlertBreakerClosed, "circuit breaker closed (the subscription changed; it was "+old.String()+"): pushing again")
}

func (r *runner) stopCoolDown() {
	r.br.mu.Lock()
	defer r.br.mu.Unlock()
	if r.br.timer != nil {
		r.br.timer.Stop()
		r.br.timer = nil
	}
}

func (r *runner) alert(s *subs.Subscription, kind, what string) {
	if r.e.deps.SubAlert != nil {
		r.e.deps.SubAlert(s, kind, what)
	}
}

// BreakerState is subscription id's circuit breaker state ("closed",
// "open", "half_open" or "disabled"); "" when it is not loaded.
func (e *Engine) BreakerState(id int64) string {
	if r := e.state.Load().runners[id]; r != nil {
		return r.br.State().String()
	}
	return ""
}
