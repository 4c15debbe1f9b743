package dispatch

import (
	"sync"
	"sync/atomic"
)

// lane is one tube of a subscription: a queue of reserved jobs (and, on
// the channel lane, direct copies) and the workers pushing them.
type lane struct {
	r     *runner
	retry bool
	tube  string
	q     chan *channelJob
	gate  *gate

	// busy counts the jobs in the lane, queued or being pushed; slots is
	// its worker count. A direct copy is taken only into a free slot.
	busy, slots atomic.Int32

	mu      sync.Mutex // guards workers; taken only on resize
	workers []chan struct{}
	wg      sync.WaitGroup
}

// laneSlack is the queue capacity beyond the gate's high watermark:
// reserves already in flight when the tube is ignored still land here.
const laneSlack = 256

func watermarks(concurrency int) (high, low int) {
	high = 2*concurrency + 4
	return high, high / 2
}

func newLane(r *runner, retry bool, tube string, concurrency int) *lane {
	high, low := watermarks(concurrency)
	return &lane{
		r: r, retry: retry, tube: tube,
		q:    make(chan *channelJob, high+laneSlack),
		gate: newGate(r.e.chanC, tube, high, low),
	}
}

// enqueue is called on a link's reader goroutine: it never blocks.
func (l *lane) enqueue(c *channelJob) {
	if l.r.e.stopping.Load() {
		c.Release(l.r.e.opts.Priority, 0)
		return
	}
	l.busy.Add(1)
	select {
	case l.q <- c:
		l.gate.observe(len(l.q))
	default:
		// Beyond the slack: give it back to the tube, which is ignored now.
		l.busy.Add(-1)
		c.Release(l.r.e.opts.Priority, 0)
		l.r.m.overflow.Inc()
	}
}

// acquire takes a free push slot for a direct copy: it reports false when
// every worker has a job, queued or in hand, or (its window on) the lane
// holds as many jobs as its window.
func (l *lane) acquire() bool {
	for {
		b := l.busy.Load()
		if b >= l.limit() {
			return false
		}
		if l.busy.CompareAndSwap(b, b+1) {
			return true
		}
	}
}

// enqueueTaken queues a direct copy whose slot acquire took; when stopping
// (or, should a resize have shrunk the queue's share, full) it is spilled.
func (l *lane) enqueueTaken(c *channelJob) {
	if !l.r.e.stopping.Load() {
		select {
		case l.q <- c:
			l.gate.observe(len(l.q))
			return
		default:
		}
	}
	l.left()
	c.Release(l.r.e.opts.Priority, 0)
}

// left is called when a job leaves the lane (settled or given back); a
// channel lane that runs dry after a spill asks whether its tube is empty
// again (CutThrough).
func (l *lane) left() {
	if l.busy.Add(-1) == 0 && !l.retry && l.r.e.opts.CutThrough && l.r.chWatch.mayHoldJobs() {
		l.r.chWatch.checkSoon(l.r)
	}
}

// drain releases every queued job; it returns how many.
func (l *lane) drain() int {
	n := releaseAll(l.q, l.r.e.opts.Priority)
	l.busy.Add(-int32(n))
	return n
}

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
		go newWorker(l).run(quit)
	}
	for len(l.workers) > n {
		last := len(l.workers) - 1
		close(l.workers[last])
		l.workers = l.workers[:last]
	}
	l.slots.Store(int32(n))
	l.r.windowCeiling()
}
