package dispatch

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/bucket"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/dispatch/subs"
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
	m      *subMetrics
	obs    SubObserver // nil without an Observer
	// channelBacklog is the channel tube's last sampled backlog (ready +
	// reserved over every server), for the drop-threshold guard: the
	// daemon's budgeted backlog sampler reports it (ChannelSampled).
	channelBacklog atomic.Int64

	// LazyRetryWatch state: retryMu orders the decisions to ignore and to
	// watch the retry tube again; retryPuts counts this daemon's retry puts
	// in flight and retryPutDone is when the last one ended (unix ns).
	retryMu      sync.Mutex
	retryIdle    atomic.Bool
	retryPuts    atomic.Int32
	retryPutDone atomic.Int64
}

// params are a subscription's effective settings.
type params struct {
	sub         *subs.Subscription
	timeout     time.Duration
	concurrency int
	retryConc   int
	interval    time.Duration
}

func (e *Engine) resolve(s *subs.Subscription) *params {
	p := &params{sub: s, timeout: e.opts.DefaultTimeout, concurrency: s.Concurrency,
		retryConc: s.RetryConcurrency, interval: e.opts.Interval}
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
	if e.deps.Observer != nil {
		r.obs = e.deps.Observer.Sub(s)
	}
	p := e.resolve(s)
	r.params.Store(p)
	r.main = newLane(r, false, r.tube, p.concurrency)
	r.retry = newLane(r, true, r.retryTube, p.retryConc)
	if e.opts.LazyRetryWatch {
		// Not watched until a retry put or a sample says it holds jobs.
		r.retryIdle.Store(true)
		r.retry.gate.idle = true
	}
	return r
}

// retryPut wraps this daemon's put into the retry tube: the tube is
// watched again once it holds a job, and a sample taken meanwhile cannot
// make it idle.
func (r *runner) retryPut(put func() error) error {
	r.retryPuts.Add(1)
	err := put()
	r.retryPutDone.Store(time.Now().UnixNano())
	r.retryPuts.Add(-1)
	if err == nil && r.retryIdle.Load() {
		r.retryMu.Lock()
		if r.retryIdle.Load() {
			r.retryIdle.Store(false)
			r.retry.gate.setIdle(false)
		}
		r.retryMu.Unlock()
	}
	return err
}

// retrySampled applies a sample of the retry tube (see Engine.RetrySampled).
func (r *runner) retrySampled(jobs int64, asked time.Time) {
	r.retryMu.Lock()
	defer r.retryMu.Unlock()
	if jobs > 0 {
		if r.retryIdle.Load() {
			r.retryIdle.Store(false)
			r.retry.gate.setIdle(false)
		}
		return
	}
	// Empty: ignore the tube unless a put of ours may have come after the
	// sample's request, or jobs reserved from it are still queued here.
	if r.retryIdle.Load() || r.retryPuts.Load() > 0 || r.retryPutDone.Load() >= asked.UnixNano() || len(r.retry.q) > 0 {
		return
	}
	r.retryIdle.Store(true)
	r.retry.gate.setIdle(true)
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
	r.bucket.Set(s.Rate, s.EffectiveBurst())
	r.main.resize(p.concurrency)
	r.retry.resize(p.retryConc)
	return true
}

// stop ends a cancelled subscription: no more reserves, workers exit after
// their current push, queued jobs go back to the tubes.
func (r *runner) stop() {
	r.main.gate.close()
	r.retry.gate.close()
	r.main.resize(0)
	r.retry.resize(0)
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

// lane is one tube of a subscription: a queue of reserved jobs and the
// workers pushing them.
type lane struct {
	r     *runner
	retry bool
	tube  string
	q     chan *connpool.Job
	gate  *gate

	mu      sync.Mutex // guards workers; taken only on resize
	workers []chan struct{}
	wg      sync.WaitGroup
}

// laneCap is the queue capacity beyond the gate's high watermark: reserves
// already in flight when the tube is ignored still land here.
const laneSlack = 256

func watermarks(concurrency int) (high, low int) {
	high = 2*concurrency + 4
	return high, high / 2
}

func newLane(r *runner, retry bool, tube string, concurrency int) *lane {
	high, low := watermarks(concurrency)
	return &lane{
		r: r, retry: retry, tube: tube,
		q:    make(chan *connpool.Job, high+laneSlack),
		gate: newGate(r.e.chanC, tube, high, low),
	}
}

// enqueue is called on a link's reader goroutine: it never blocks.
func (l *lane) enqueue(j *connpool.Job) {
	if l.r.e.stopping.Load() {
		j.Release(l.r.e.opts.Priority, 0)
		return
	}
	select {
	case l.q <- j:
		l.gate.observe(len(l.q))
	default:
		// Beyond the slack: give it back to the tube, which is ignored now.
		j.Release(l.r.e.opts.Priority, 0)
		l.r.m.overflow.Inc()
	}
}

// drain releases every queued job; it returns how many.
func (l *lane) drain() int { return l.r.e.releaseAll(l.q) }

// resize grows or shrinks the worker set; a worker told to stop finishes
// its current push first, so nothing is lost or pushed twice.
func (l *lane) resize(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.r.e.stopping.Load() {
		n = 0
	}
	for len(l.workers) < n {
		quit := make(chan struct{})
		l.workers = append(l.workers, quit)
		l.wg.Add(1)
		l.r.e.runners.Add(1)
		go l.work(quit)
	}
	for len(l.workers) > n {
		last := len(l.workers) - 1
		close(l.workers[last])
		l.workers = l.workers[:last]
	}
	if n > 0 {
		high, low := watermarks(n)
		l.gate.setLimits(high, low)
	}
}

// worker is one push routine's reusable state.
type worker struct {
	l       *lane
	msg     message.Message
	push    push.Push
	res     push.Result
	buf     []byte
	rnd     *rand.PCG
	lastRun time.Time
}

func (l *lane) work(quit chan struct{}) {
	defer l.wg.Done()
	defer l.r.e.runners.Done()
	seed := uint64(time.Now().UnixNano())
	w := &worker{l: l, rnd: rand.NewPCG(seed, uint64(l.r.id))}
	e := l.r.e
	for {
		select {
		case <-quit:
			return
		case <-e.quit:
			return
		case j := <-l.q:
			l.gate.observe(len(l.q))
			if !w.pace(quit) {
				j.Release(e.opts.Priority, 0)
				return
			}
			w.process(j)
		}
	}
}

// pace waits for the subscription's token bucket and the minimum interval
// between pushes of this worker. It returns false when the worker must
// stop instead.
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
	return true
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

// process pushes one job and settles it.
func (w *worker) process(j *connpool.Job) {
	l, r, e := w.l, w.l.r, w.l.r.e
	w.lastRun = time.Now()
	if err := message.Decode(j.Body, &w.msg); err != nil {
		// Routed already, so this cannot happen unless memory is corrupt;
		// keep the job for an operator.
		_ = e.deps.Data.DecodeErrKept(j.Body, err.Error())
		j.Bury(e.opts.Priority)
		return
	}
	p := r.params.Load()
	url, ok := p.sub.URLs().Pick(e.opts.ReceptionEnv, uint32(w.rnd.Uint64()))
	if !ok {
		// A message with no URL for this environment is not pushed (the
		// old daemon's rule, which subscribers rely on), but it is never
		// silently gone: a DROP line keeps it (replay puts
		// it back once the subscription has a URL for this environment).
		r.m.noURL.Inc()
		if err := e.deps.Data.Drop(r.topic, r.id, j.Body, "no URL for RECEPTION_ENV "+strconv.Quote(e.opts.ReceptionEnv)); err != nil {
			e.keep(j, "DROP", err)
			return
		}
		e.log.Warn("no usable URL: message written to the drop log", "sub", r.id, "topic", r.topic,
			"env", e.opts.ReceptionEnv, "job", j.ID)
		j.Delete()
		return
	}
	retryTimes := 0
	if l.retry {
		retryTimes = w.msg.RetryTimes + 1
	}
	w.push = push.Push{URL: url, Msg: &w.msg, SubID: r.id, RetryTimes: retryTimes, Timeout: p.timeout}
	e.deps.Push.Push(context.Background(), &w.push, &w.res)
	if !e.opts.NoPushMetrics {
		r.m.observe(&w.res, l.retry)
	}
	if r.obs != nil {
		done := 0
		if l.retry {
			done = w.msg.RetryTimes + 1
		}
		r.obs.Pushed(p.sub, w.res.OK, l.retry, done)
	}
	if e.opts.SentLog {
		w.sentLog(url)
	}
	switch {
	case w.res.OK:
		if l.retry {
			w.record(j, url, failures.Success)
		}
		j.Delete()
	case w.res.Kind == push.Encode:
		// The body cannot become JSON (e.g. NaN): not the subscriber's
		// fault and never deliverable; keep it buried for an operator.
		_ = e.deps.Data.DecodeErrKept(j.Body, w.res.Err.Error())
		j.Bury(e.opts.Priority)
	case w.res.Kind == push.Canceled:
		j.Release(e.opts.Priority, 0)
	default:
		w.retryOrGiveUp(j, url, p)
	}
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
