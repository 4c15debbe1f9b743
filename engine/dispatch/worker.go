package dispatch

import (
	"math/rand/v2"
	"strconv"
	"time"

	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/dispatch/stage"
	"medispatcher/engine/dispatch/window"
)

// worker is one push routine of a lane and its reusable state.
type worker struct {
	l       *lane
	msg     *message.Message // the message in hand (its channelJob's)
	push    push.Push
	res     push.Result
	buf     []byte
	rnd     *rand.PCG
	lastRun time.Time
	// entered: the worker holds room in its lane's window (taken in
	// epoch); sig is what the push in hand tells the window.
	entered bool
	epoch   uint32
	sig     window.Signal
	// jobid and traceparent are the traced push's buffers, spanName its
	// span's name (trace.go).
	jobid, traceparent []byte
	spanName           string
}

func newWorker(l *lane) *worker {
	seed := uint64(time.Now().UnixNano())
	return &worker{l: l, rnd: rand.NewPCG(seed, uint64(l.r.id))}
}

// run pushes the lane's jobs until quit: the lane shrank or stopped, or
// the engine's graceful stop began (shutdown closes every worker's quit).
// It waits on its own channels only: a channel every worker waited on
// would put one lock on the path of every message.
func (w *worker) run(quit chan struct{}) {
	l := w.l
	e := l.r.e
	defer l.wg.Done()
	defer e.runners.Done()
	for {
		select {
		case <-quit:
			return
		case c := <-l.q:
			l.gate.observe(len(l.q))
			if l.r.br.Blocked() {
				// Its breaker refuses pushes: back to its tube, untouched.
				c.Release(e.opts.Priority, 0)
				l.left()
				continue
			}
			// Room in the window is taken with a job in hand, right before
			// the push: the window is shared by both lanes, and an idle
			// worker holding room would starve the other lane.
			if !w.pace(quit) || !w.enter(quit) {
				l.busy.Add(-1)
				c.Release(e.opts.Priority, 0)
				return
			}
			w.process(c)
			w.msg, w.push.Msg = nil, nil // c is recycled: nothing of it stays here
			c.done()
			l.left()
			w.leave()
		}
	}
}

// pace waits for the subscription's token bucket, the minimum interval
// between pushes of this worker and the end of a pause a subscriber asked
// for (checked last: it may begin while the worker waits for the others).
// It returns false when the worker must stop instead.
func (w *worker) pace(quit chan struct{}) bool {
	r := w.l.r
	if iv := r.params.Load().interval; iv > 0 && !w.lastRun.IsZero() {
		if d := time.Until(w.lastRun.Add(iv)); d > 0 && !sleep(d, quit, r.e.quit) {
			return false
		}
	}
	if d := r.bucket.Reserve(); d > 0 {
		r.m.bucketWaits.Inc()
		if !sleep(d, quit, r.e.quit) {
			return false
		}
	}
	return r.waitPause(quit)
}

func sleep(d time.Duration, a, b <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a:
		return false
	case <-b:
		return false
	}
}

// retriesDone counts the message's retries including the push in hand
// when it is one: 0 on the channel lane, the stored RetryTimes + 1 on the
// retry lane (1 for the first retry).
func (w *worker) retriesDone() int {
	if w.l.retry {
		return w.msg.RetryTimes + 1
	}
	return 0
}

// process pushes one job and settles it.
func (w *worker) process(c *channelJob) {
	l, r, e := w.l, w.l.r, w.l.r.e
	w.msg = &c.msg
	w.lastRun = time.Now()
	if c.handed != 0 {
		e.stages.Observe(stage.SlotWait, time.Duration(w.lastRun.UnixNano()-c.handed))
	}
	p := r.params.Load()
	url, ok := p.sub.URLs().Pick(e.opts.ReceptionEnv, uint32(w.rnd.Uint64()))
	if !ok {
		w.dropNoURL(c)
		return
	}
	allowed, probe := r.acquire()
	if !allowed {
		c.giveBack(e.opts.Priority, 0) // its breaker opened meanwhile
		return
	}
	done := w.retriesDone()
	w.push = push.Push{URL: url, Msg: w.msg, SubID: r.id, RetryTimes: done, Timeout: p.timeout, Keys: p.sub.SigningKeys(),
		MaxRetryAfter: e.opts.MaxRetryAfter}
	w.send()
	e.stages.Observe(stage.Push, w.res.Elapsed)
	w.sig = windowSignal(&w.res)
	if w.res.OK && !l.retry {
		e.stages.Since(stage.Total, w.msg.Time, w.lastRun.Add(w.res.Elapsed))
	}
	if !e.opts.NoPushMetrics {
		r.m.observe(&w.res, l.retry)
	}
	if r.obs != nil {
		r.obs.Pushed(p.sub, w.res.OK, l.retry, done)
	}
	if w.res.RetryAfter > 0 {
		r.backOff(&w.res)
	}
	disabled := r.pushed(&w.res, p, probe, w.lastRun.UnixNano()+int64(w.res.Elapsed))
	if e.opts.SentLog {
		w.sentLog(url)
	}
	switch {
	case w.res.OK:
		if l.retry {
			w.record(c, url, failures.Success)
		}
		c.Delete()
	case disabled:
		c.giveBack(e.opts.Priority, 0) // not retried: no retry spent
	case w.res.Kind == push.Encode:
		// The body cannot become JSON (e.g. NaN): not the subscriber's
		// fault and never deliverable; keep it buried for an operator (a
		// direct copy is buried once it comes back from its channel tube).
		if !c.direct() {
			_ = e.deps.Data.DecodeErrKept(c.Body(), w.res.Err.Error())
		}
		c.Bury(e.opts.Priority)
	case w.res.Kind == push.Canceled:
		c.giveBack(e.opts.Priority, 0)
	default:
		w.retryOrGiveUp(c, url)
	}
}

// dropNoURL settles a job whose subscription has no URL for this
// environment. It is not pushed (the old daemon's rule, which subscribers
// rely on), but it is never silently gone: a DROP line keeps it (replay
// puts it back once the subscription has a URL for this environment).
func (w *worker) dropNoURL(c *channelJob) {
	r, e := w.l.r, w.l.r.e
	r.m.noURL.Inc()
	if err := e.deps.Data.Drop(r.topic, r.id, c.Body(), "no URL for RECEPTION_ENV "+strconv.Quote(e.opts.ReceptionEnv)); err != nil {
		// Kept in beanstalkd: a direct copy in its channel tube.
		if c.direct() {
			e.noteKept(c.fan.job, "DROP", err)
			c.giveBack(e.opts.Priority, e.opts.KeepDelay)
			return
		}
		e.keep(c.job, "DROP", err)
		return
	}
	e.log.Warn("no usable URL: message written to the drop log", "sub", r.id, "topic", r.topic,
		"env", e.opts.ReceptionEnv, "job", c.ID())
	c.Delete()
}

func (w *worker) sentLog(url string) {
	e := w.l.r.e
	var err error
	w.buf, err = message.AppendJSON(w.buf[:0], w.msg.Body)
	if err != nil {
		w.buf = w.buf[:0]
	}
	_ = e.deps.Data.Sent(w.l.retry, w.msg.Topic, w.l.r.id, w.res.OK, w.res.Status, w.res.Elapsed, url, w.buf)
}
