package connpool

import (
	"sync/atomic"
)

// op is the command a request carries; the reader matches the reply to it.
type op uint8

const (
	opProbe op = iota // list-tube-used, proves a fresh connection answers
	opUse
	opPut
	opDelete
	opKickJob
	opKick
	opStatsTube
	opStatsJob
	opListTubes
	opPeek
	opWatch
	opIgnore
	opReserve
	opRelease
	opBury
	opTouch
)

var opNames = [...]string{
	opProbe: "list-tube-used", opUse: "use", opPut: "put", opDelete: "delete",
	opKickJob: "kick-job", opKick: "kick", opStatsTube: "stats-tube",
	opStatsJob: "stats-job", opListTubes: "list-tubes", opPeek: "peek",
	opWatch: "watch", opIgnore: "ignore", opReserve: "reserve-with-timeout",
	opRelease: "release", opBury: "bury", opTouch: "touch",
}

func (o op) String() string { return opNames[o] }

// Completion states of a request with a waiter.
const (
	reqWaiting uint32 = iota
	reqDone
	reqAbandoned // the waiter left (ctx done); the completer recycles it
)

// request is one command in flight on a link. Requests are pooled: a put
// costs no allocation. A request either has a waiter (done is signalled) or
// is asynchronous (the link handles its reply itself).
type request struct {
	op    op
	async bool
	state atomic.Uint32
	done  chan struct{} // cap 1, reused

	start    int64 // enqueue time, ns since Pool.base
	deadline int64 // answer expected by then, ns since Pool.base
	sample   bool  // counts toward the link's RTT average
	blocking bool  // a reserve that may wait IdleWait on the server

	name string // tube of use/watch/ignore (checked against the reply)
	job  *Job   // job operations

	// results
	id   uint64
	n    uint64
	body []byte
	err  error
}

func (r *request) reset() {
	done := r.done
	*r = request{done: done}
	select {
	case <-done:
	default:
	}
}

// complete hands a finished request to its waiter; it returns false when the
// waiter left, in which case the caller must recycle the request.
func (r *request) complete() bool {
	if r.state.CompareAndSwap(reqWaiting, reqDone) {
		r.done <- struct{}{}
		return true
	}
	return false
}

// queue is a FIFO ring of requests, in the order their commands were
// appended to the link's write buffer (and so the order of the replies).
type queue struct {
	buf  []*request
	head int
	n    int
}

func (q *queue) push(r *request) {
	if q.n == len(q.buf) {
		nb := make([]*request, max(16, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = r
	q.n++
}

func (q *queue) peek() *request {
	if q.n == 0 {
		return nil
	}
	return q.buf[q.head]
}

func (q *queue) tail() *request {
	if q.n == 0 {
		return nil
	}
	return q.buf[(q.head+q.n-1)%len(q.buf)]
}

func (q *queue) pop() *request {
	if q.n == 0 {
		return nil
	}
	r := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return r
}
