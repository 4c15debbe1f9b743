package dispatch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
)

// Cut-through (Options.CutThrough): a subscription whose channel lane has
// a free push slot, whose channel tube holds nothing this daemon knows of
// and whose token bucket has a token gets its copy of a main-tube message
// handed straight to the lane, skipping the channel tube's put, reserve and
// delete. Every other copy is spilled into the channel tube as in the
// two-hop design, and once a subscription has spilled, its copies follow
// the spill until the tube is found empty again (tubeWatch), so they never
// overtake it.
//
// The main job stays reserved (the consumer's TTR guard touches it) until
// every copy is settled: pushed, put into its retry tube after a failure,
// or spilled; then it is deleted. A daemon that dies meanwhile loses
// nothing: beanstalkd gives the main job back and it is fanned out again,
// a duplicate (same jobid) for the subscriptions that already had it.

// fan is a main job with copies handed over directly: it is settled when
// the last of them is (pending counts them, plus the redistributor's own
// hold while it is still fanning out).
type fan struct {
	e       *Engine
	job     *connpool.Job
	pending atomic.Int32
	out     atomic.Uint32 // the worst fanOut of its copies
}

var fans = sync.Pool{New: func() any { return new(fan) }}

// newFan holds j for its direct copies; the caller's own hold is released
// with settle.
func (e *Engine) newFan(j *connpool.Job) *fan {
	f := fans.Get().(*fan)
	f.e, f.job = e, j
	f.out.Store(uint32(fanDone))
	f.pending.Store(1)
	return f
}

// mark records a copy's outcome: the main job is given back (fanKept) or
// buried (fanTooBig) instead of deleted once every copy is settled.
func (f *fan) mark(o fanOut) {
	for {
		cur := f.out.Load()
		if uint32(o) <= cur || f.out.CompareAndSwap(cur, uint32(o)) {
			return
		}
	}
}

// settle ends one hold; the last one settles the main job.
func (f *fan) settle() {
	if f.pending.Add(-1) != 0 {
		return
	}
	e, j := f.e, f.job
	switch fanOut(f.out.Load()) {
	case fanKept:
		j.Release(e.opts.Priority, e.opts.KeepDelay)
	case fanTooBig:
		e.metrics.tooBig.Inc()
		j.Bury(e.opts.Priority)
	default:
		e.metrics.redistributed.Inc()
		j.Delete()
	}
	*f = fan{}
	fans.Put(f)
}

// takeDirect reports whether r takes its next copy directly, and if so
// holds one of its channel lane's push slots for it. A paused subscription
// takes none, as if no slot were free: its copies wait in the channel tube
// rather than hold the main job for the length of the pause; so does one
// whose circuit breaker refuses pushes (open, disabled, its probe out).
func (r *runner) takeDirect() bool {
	return !r.e.stopping.Load() && !r.chWatch.mayHoldJobs() && !r.paused() && !r.br.Blocked() &&
		r.bucket.Ready() && r.main.acquire()
}

// handDirect gives r's lane a direct copy of m, the decoded body of the
// main job f holds (a slot was taken by takeDirect).
func (e *Engine) handDirect(f *fan, r *runner, m *message.Message, now time.Time) {
	f.pending.Add(1)
	c := newChannelJob(nil)
	c.fan, c.r, c.msg, c.handed = f, r, *m, now.UnixNano()
	c.msg.OriginJobID, c.msg.SubscriptionID, c.msg.RetryTimes, c.msg.LogID = f.job.ID, r.id, 0, 0
	r.m.direct.Inc()
	r.main.enqueueTaken(c)
}

// spill puts a direct copy into its channel tube after delay (it could not
// be pushed now) and settles it on its main job.
func (c *channelJob) spill(delay time.Duration) {
	f := c.fan
	f.mark(c.r.e.putCopy(f.job, c.r, c.Body(), delay))
	f.settle()
}

// putCopy puts job, subscription r's copy of main job j, into r's channel
// tube after delay. On failure the copy goes to the DATA log (REDISTFAIL,
// which the replay tool puts back); fanKept means that line could not be
// written either and j must be given back, fanTooBig that it can never be
// put and j must be buried.
func (e *Engine) putCopy(j *connpool.Job, r *runner, job []byte, delay time.Duration) fanOut {
	// connpool bounds every request with its OpTimeout: no context (and no
	// timer) per put on this path.
	r.chWatch.putStarted()
	_, err := e.deps.Pool.Put(context.Background(), j.Server, r.tube, job, e.opts.Priority, delay, e.opts.TTR)
	r.chWatch.putEnded(err == nil)
	if err == nil {
		e.metrics.fanout.Inc()
		r.m.spilled.Inc()
		return fanDone
	}
	return e.copyNotPut(j, r, job, err)
}

// checkSoon asks beanstalkd, once its lane has run dry, whether the
// channel tube a subscription spilled into is empty again, so that its
// copies go direct again without waiting for the backlog sampler's sweep.
// One check runs at a time per tube; a call during a check makes it check
// again after it. While checks find jobs they wait longer (checkMinGap
// doubling up to checkMaxGap). It is called from a worker, which holds the
// engine's runners count.
func (w *tubeWatch) checkSoon(r *runner) {
	w.again.Store(true)
	if r.e.stopping.Load() || !w.checking.CompareAndSwap(false, true) {
		return
	}
	r.e.runners.Add(1)
	go func() {
		defer r.e.runners.Done()
		for {
			for {
				w.again.Store(false)
				if !w.check(r) && !w.again.Load() {
					break
				}
			}
			w.checking.Store(false)
			// A call that came after the last check but found it running.
			if !w.again.Load() || !w.checking.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// check counts the tube's jobs once (after the current backoff) and
// applies the count. It reports whether to check again: the tube still
// may hold jobs (delayed ones, or ours whose delete beanstalkd had not
// applied yet) while its lane is dry, so no job of the lane will ask.
func (w *tubeWatch) check(r *runner) bool {
	gap := time.Duration(w.backoff.Load())
	if gap > 0 && !sleep(gap, r.e.quit, nil) {
		return false
	}
	if !w.mayHoldJobs() {
		return false // a sample was first
	}
	asked := time.Now()
	jobs := r.e.countJobs(r.tube)
	w.sampled(jobs, asked)
	if jobs == 0 {
		w.backoff.Store(0)
	} else {
		w.backoff.Store(int64(min(max(2*gap, checkMinGap), checkMaxGap)))
	}
	return jobs > 0 && w.mayHoldJobs() && w.lane.busy.Load() == 0 && !r.e.stopping.Load()
}

const (
	checkMinGap = 10 * time.Millisecond
	checkMaxGap = time.Second
)

// countJobs counts tube's ready, delayed and reserved jobs over every
// server; a server that does not answer counts as holding one.
func (e *Engine) countJobs(tube string) int64 {
	var n int64
	for i := range e.deps.Pool.Servers() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := e.deps.Pool.StatsTube(ctx, i, tube)
		cancel()
		switch {
		case err == nil:
			n += st.Ready + st.Delayed + st.Reserved
		case !errors.Is(err, connpool.ErrNotFound):
			n++
		}
	}
	return n
}
