package dispatch

import (
	"sync"
	"sync/atomic"
	"time"
)

// The daemon's backlog sampler counts every subscription's tubes within its
// request budget and reports the counts here; the engine never asks
// beanstalkd for a backlog itself.

// ChannelSampled reports a sample of subscription id's channel tube: its
// jobs (ready and reserved, over every server), for the drop_threshold
// guard, which reads nothing else (the sampler keeps to its request
// budget; the guard never asks beanstalkd itself).
func (e *Engine) ChannelSampled(id int64, jobs int64) {
	if r := e.state.Load().runners[id]; r != nil {
		r.channelBacklog.Store(jobs)
	}
}

// backlogAbove reports whether the channel tube's last sampled backlog is
// above n jobs (no sample yet: 0 jobs).
func (r *runner) backlogAbove(n int) bool { return r.channelBacklog.Load() > int64(n) }

// RetrySampled reports a sample of subscription id's retry tube: jobs
// (ready, delayed and reserved, over every server) as counted by stats-tube
// requests sent at asked or later. With LazyRetryWatch, jobs > 0 watches
// the tube; an empty sample ignores it, unless this daemon put a retry job
// that the sample may not have seen.
func (e *Engine) RetrySampled(id int64, jobs int64, asked time.Time) {
	if !e.opts.LazyRetryWatch {
		return
	}
	if r := e.state.Load().runners[id]; r != nil {
		r.watch.sampled(jobs, asked)
	}
}

// retryWatch is LazyRetryWatch for one retry tube: the tube is watched
// only while it may hold jobs, from this daemon's own retry put or a
// sample that found some, until a sample finds it empty.
type retryWatch struct {
	lane *lane // the retry lane: its gate and its queue

	// mu orders the decisions to ignore and to watch the tube again; puts
	// counts this daemon's retry puts in flight and putDone is when the
	// last one ended (unix ns).
	mu      sync.Mutex
	idle    atomic.Bool
	puts    atomic.Int32
	putDone atomic.Int64
}

// startIdle leaves the tube unwatched until a retry put or a sample says
// it holds jobs; it is called before the lane's gate opens.
func (w *retryWatch) startIdle() {
	w.idle.Store(true)
	w.lane.gate.idle = true
}

// putStarted and putEnded bracket a put of ours into the tube: once it
// holds a job the tube is watched again, and a sample taken meanwhile
// cannot make it idle.
func (w *retryWatch) putStarted() { w.puts.Add(1) }

func (w *retryWatch) putEnded(ok bool) {
	w.putDone.Store(time.Now().UnixNano())
	w.puts.Add(-1)
	if ok && w.idle.Load() {
		w.mu.Lock()
		if w.idle.Load() {
			w.idle.Store(false)
			w.lane.gate.setIdle(false)
		}
		w.mu.Unlock()
	}
}

// sampled applies a sample of the tube (see Engine.RetrySampled).
func (w *retryWatch) sampled(jobs int64, asked time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if jobs > 0 {
		if w.idle.Load() {
			w.idle.Store(false)
			w.lane.gate.setIdle(false)
		}
		return
	}
	// Empty: ignore the tube unless a put of ours may have come after the
	// sample's request, or jobs reserved from it are still queued here.
	if w.idle.Load() || w.puts.Load() > 0 || w.putDone.Load() >= asked.UnixNano() || len(w.lane.q) > 0 {
		return
	}
	w.idle.Store(true)
	w.lane.gate.setIdle(true)
}
