package dispatch

import (
	"sync"
)

// lane is one tube of a subscription: a queue of reserved jobs and the
// workers pushing them.
type lane struct {
	r     *runner
	retry bool
	tube  string
	q     chan *channelJob
	gate  *gate

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
	select {
	case l.q <- c:
		l.gate.observe(len(l.q))
	default:
		// Beyond the slack: give it back to the tube, which is ignored now.
		c.Release(l.r.e.opts.Priority, 0)
		l.r.m.overflow.Inc()
	}
}

// drain releases every queued job; it returns how many.
func (l *lane) drain() int { return releaseAll(l.q, l.r.e.opts.Priority) }

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
	if n > 0 {
		high, low := watermarks(n)
		l.gate.setLimits(high, low)
	}
}
