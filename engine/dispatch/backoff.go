package dispatch

import (
	"time"

	"medispatcher/engine/dispatch/push"
)

// Back-pressure: a subscriber answering 429 or 503 with Retry-After asks
// us to wait (push.Result.RetryAfter, bounded by Options.MaxRetryAfter).
// Its subscription then pushes nothing new, first pushes and retries on
// every lane alike, until the asked time has passed: each worker waits for
// the runner's notBefore instant before a push (pace), and cut-through
// hands a paused subscription no direct copy. The failed message's own
// retry waits at least as long (retryOrGiveUp).

// backOff pauses r for the wait res asked for, counted from now. Pauses
// asked for together end at the latest of them; only an answer that
// starts a pause (r was not paused) is logged.
func (r *runner) backOff(res *push.Result) {
	r.m.backoff.Inc()
	now := time.Now().UnixNano()
	until := now + int64(res.RetryAfter)
	for {
		old := r.notBefore.Load()
		if until <= old {
			return
		}
		if r.notBefore.CompareAndSwap(old, until) {
			if old <= now {
				r.e.log.Info("subscriber asked to back off: subscription paused", "sub", r.id, "topic", r.topic,
					"status", res.Status, "delay", res.RetryAfter)
			}
			return
		}
	}
}

// paused reports whether r is within a pause its subscriber asked for.
func (r *runner) paused() bool {
	nb := r.notBefore.Load()
	return nb != 0 && time.Now().UnixNano() < nb
}

// waitPause sleeps until r's pause is over, however often it is extended
// meanwhile. It returns false when quit or the engine's stop comes first.
func (r *runner) waitPause(quit chan struct{}) bool {
	for {
		nb := r.notBefore.Load()
		if nb == 0 {
			return true // never paused
		}
		d := time.Duration(nb - time.Now().UnixNano())
		if d <= 0 {
			return true
		}
		if !sleep(d, quit, r.e.quit) {
			return false
		}
	}
}

// wholeSeconds rounds d up to whole seconds, beanstalkd's unit for a
// delay, so that a put delayed by it is not ready before d has passed.
func wholeSeconds(d time.Duration) time.Duration {
	return (d + time.Second - 1) / time.Second * time.Second
}
