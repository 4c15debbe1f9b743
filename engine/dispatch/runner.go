package dispatch

import (
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"medispatcher/engine/dispatch/bucket"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/dispatch/window"
)

// runner owns one subscription: its channel lane, its retry lane and the
// token bucket both share. Parameters are swapped atomically, so a change
// applies to the next push without stopping anything.
type runner struct {
	e         *Engine
	id        int64
	topic     string
	tube      string // channel tube
	retryTube string

	params atomic.Pointer[params]
	bucket *bucket.Bucket
	main   *lane
	retry  *lane
	// win is the subscription's adaptive push window (pushwindow.go),
	// shared by both lanes, its ceiling their workers together; it limits
	// pushes only while the window is on.
	win *window.Window
	m   *subMetrics
	obs SubObserver // nil without an Observer
	// channelBacklog is the channel tube's last sampled backlog (ready +
	// reserved over every server), for the drop-threshold guard: the
	// daemon's budgeted backlog sampler reports it (ChannelSampled).
	channelBacklog atomic.Int64
	// watch is the retry tube's LazyRetryWatch state, chWatch the channel
	// tube's with CutThrough.
	watch, chWatch tubeWatch
	// notBefore is the end of the pause the subscriber asked for
	// (Retry-After), unix nanoseconds; 0 or past: not paused.
	notBefore atomic.Int64
	// br is the subscription's circuit breaker (breaker.go).
	br runnerBreaker
	// filterWarned is when its content filter's last failure was logged
	// (unix ns), for the rate limit of those warnings.
	filterWarned atomic.Int64
	// winDecreases count the lanes' window decreases by reason.
	winDecreases [window.Reasons]*metrics.Counter
}

func newRunner(e *Engine, s *subs.Subscription) *runner {
	r := &runner{
		e:         e,
		id:        s.ID,
		topic:     s.Topic,
		tube:      s.ChannelTube(e.opts.ChannelPrefix),
		retryTube: s.RetryTube(e.opts.ChannelPrefix),
		bucket:    bucket.New(s.Rate, s.EffectiveBurst()),
		m:         newSubMetrics(s.ID, s.Topic),
	}
	r.br.Breaker = e.newBreaker()
	r.breakerMetrics()
	if e.deps.Observer != nil {
		r.obs = e.deps.Observer.Sub(s)
	}
	p := e.resolve(s)
	r.params.Store(p)
	r.win = window.New(p.concurrency + p.retryConc)
	r.win.Reset(windowStart)
	r.main = newLane(r, false, r.tube, p.concurrency)
	r.retry = newLane(r, true, r.retryTube, p.retryConc)
	r.watch.lane, r.chWatch.lane = r.retry, r.main
	r.windowMetrics()
	if e.opts.LazyRetryWatch {
		r.watch.startIdle()
	}
	if e.opts.CutThrough {
		r.chWatch.startIdle()
	}
	return r
}

func (r *runner) start() {
	r.main.resize(r.params.Load().concurrency)
	r.retry.resize(r.params.Load().retryConc)
	r.main.gate.open()
	r.retry.gate.open()
}

// update applies new parameters; it reports whether anything changed.
func (r *runner) update(s *subs.Subscription) bool {
	old := r.params.Load()
	if old.sub.Equal(s) {
		return false
	}
	p := r.e.resolve(s)
	r.params.Store(p)
	if p.window != old.window {
		r.switchWindow(p.window)
	}
	r.bucket.Set(s.Rate, s.EffectiveBurst())
	r.main.resize(p.concurrency)
	r.retry.resize(p.retryConc)
	r.resetBreaker(s)
	return true
}

// stop ends a cancelled subscription: no more reserves, workers exit after
// their current push, queued jobs go back to the tubes.
func (r *runner) stop() {
	r.main.gate.close()
	r.retry.gate.close()
	r.main.resize(0)
	r.retry.resize(0)
	r.stopCoolDown()
	if r.obs != nil {
		r.obs.Stopped()
	}
	// Its series and host clients go with it (synchronously: a runner
	// added again for the same id creates them anew).
	r.m.release()
	r.e.deps.Push.Forget(r.params.Load().sub.URLs().Candidates(r.e.opts.ReceptionEnv)...)
	// Owned like the workers: shutdown waits for the drain.
	r.e.runners.Add(1)
	go func() {
		defer r.e.runners.Done()
		r.main.wg.Wait()
		r.retry.wg.Wait()
		r.main.drain()
		r.retry.drain()
	}()
}
