package dispatch

import (
	"sync"
	"sync/atomic"
	"time"
)

// The daemon's backlog sampler counts every subscription's tubes within its
// request budget and reports the counts here; the engine never asks
// beanstalkd for a backlog itself.

// ChannelSampled reports a sample of subscription id's channel tube, over
// every server: backlog (ready and reserved jobs) for the drop_threshold
// guard, which reads nothing else (the sampler keeps to its request
// budget; the guard never asks beanstalkd itself), and jobs (ready, delayed
// and reserved, or 1 when a server did not answer) as counted by
// stats-tube requests sent at asked or later, for the lazy watch of
// CutThrough (see tubeWatch).
func (e *Engine) ChannelSampled(id int64, backlog, jobs int64, asked time.Time) {
	if r := e.state.Load().runners[id]; r != nil {
		r.channelBacklog.Store(backlog)
		if e.opts.CutThrough {
			r.chWatch.sampled(jobs, asked)
		}
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

// tubeWatch watches a tube only while it may hold jobs: from this daemon's
// own put into it, or a sample that found some, until a sample finds it
// empty. It serves retry tubes (LazyRetryWatch) and, with CutThrough,
// channel tubes: while a channel tube may hold jobs its subscription's
// messages are spilled into it behind them, never handed over directly.
// Without lazy watching (startIdle not called) the tube is always watched
// and may always hold jobs.
type tubeWatch struct {
	lane *lane // the tube's lane: its gate and its queue

	// mu orders the decisions to ignore and to watch the tube again; puts
	// counts this daemon's puts in flight and putDone is when the last one
	// ended (unix ns).
	mu      sync.Mutex
	idle    atomic.Bool
	puts    atomic.Int32
	putDone atomic.Int64

	// checking is set while a check (checkSoon) runs, again when one is
	// asked for; backoff is the wait before the next one (ns), doubled
	// while checks find jobs.
	checking, again atomic.Bool
	backoff         atomic.Int64
}

// startIdle leaves the tube unwatched until a put or a sample says it
// holds jobs; it is called before the lane's gate opens.
func (w *tubeWatch) startIdle() {
	w.idle.Store(true)
	w.lane.gate.idle = true
}

// mayHoldJobs reports whether the tube is watched or a put of ours into it
// is in flight: jobs may wait there.
func (w *tubeWatch) mayHoldJobs() bool { return !w.idle.Load() || w.puts.Load() > 0 }

// putStarted and putEnded bracket a put of ours into the tube: once it
// holds a job the tube is watched again, and a sample taken meanwhile
// cannot make it idle.
func (w *tubeWatch) putStarted() { w.puts.Add(1) }

func (w *tubeWatch) putEnded(ok bool) {
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

// sampled applies a count of the tube's jobs taken by requests sent at
// asked or later.
func (w *tubeWatch) sampled(jobs int64, asked time.Time) {
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
	// sample's request, or jobs taken from it are still in the lane.
	if w.idle.Load() || w.puts.Load() > 0 || w.putDone.Load() >= asked.UnixNano() || w.lane.busy.Load() > 0 {
		return
	}
	w.idle.Store(true)
	w.lane.gate.setIdle(true)
}
