package connpool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"medispatcher/internal/rawsock"
)

// readBufSize is the reader's buffer: many replies per read syscall.
const readBufSize = 64 << 10

// maxKeptWriteBuf: a write buffer grown beyond this by a burst of large
// bodies is dropped after use instead of being kept for the link's life.
const maxKeptWriteBuf = 4 << 20

// link is one TCP connection to one server (reconnected for the life of the
// link) with one writer and one reader goroutine. Callers append commands to
// wbuf and their request to q under mu; the writer flushes wbuf in one write;
// the reader completes requests in FIFO order.
type link struct {
	p      *Pool
	c      *Consumer // nil for command links
	server int
	addr   string
	kind   string

	ctx    context.Context // canceled when the link is closed
	cancel context.CancelFunc

	up         atomic.Bool // connected and answered: may carry traffic
	reconnects atomic.Uint64
	writes     atomic.Uint64 // write syscalls
	settled    chan struct{} // closed once the first connection attempt settled
	settleOnce sync.Once

	mu       sync.Mutex
	closed   bool
	conn     net.Conn // nil while down
	connDone chan struct{}
	gen      uint64 // connection generation; jobs remember theirs
	wbuf     []byte // commands not yet taken by the writer
	q        queue  // requests in reply order
	nwritten int    // requests at the head of q taken by the writer
	rdl      int64  // read deadline in force, ns since Pool.base (0 = none)
	rtt      int64  // moving average round trip, ns
	using    string // tube the connection uses (as sent)
	answered bool   // the current connection answered at least once
	everUp   bool   // some connection answered (later ones are reconnects)
	idleW    bool   // the writer waits on wake
	wake     chan struct{}
	failBuf  []*request

	// Reserve links only (c != nil), guarded by mu.
	srvWatch map[string]struct{} // what the connection watches, as sent (wake tube aside)
	nwant    int                 // tubes of the consumer's set this link watches
	slot     int                 // index among the consumer's links of its server
	nbRes    int                 // non-blocking reserves outstanding
	window   int                 // non-blocking reserves to keep outstanding (see scheduleLocked)
	blocking bool                // a blocking reserve is outstanding
	idle     bool                // the watched tubes looked empty: long-poll
	held     map[uint64]*Job     // jobs reserved on this connection, not yet ended
	wakeTube string              // private tube always watched: a job put there ends a long poll
	waking   bool                // a wake job was put and the long poll has not ended yet
	wakeT    *time.Timer         // wakes a long poll for job operations queued behind it (OpWakeDelay)
	wakeSet  bool                // wakeT is pending
	hits     int                 // jobs found by non-blocking reserves since the flow began
	skip     int                 // polls answered with a job to go before the next probe
	backoff  int                 // the last skip set (see scheduleLocked)
	// opsSince is when the oldest job operation waiting behind the
	// current long poll was queued (Pool.now ns; 0 = none): the wake comes
	// OpWakeDelay after it, not after the first operation of a stream.
	opsSince int64
}

func newLink(p *Pool, c *Consumer, server int, kind string) *link {
	l := &link{
		p:       p,
		c:       c,
		server:  server,
		addr:    p.cfg.Addrs[server],
		kind:    kind,
		settled: make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	if c != nil {
		l.held = make(map[uint64]*Job)
		l.srvWatch = make(map[string]struct{})
		l.slot = len(c.links) % c.cfg.Links
		l.wakeTube = fmt.Sprintf("%s.%s.%d", wakeTubePrefix, c.id, len(c.links))
	}
	return l
}

func (l *link) settle() { l.settleOnce.Do(func() { close(l.settled) }) }

// run owns the link's connection: dial, serve, reconnect with backoff, until
// the link is closed.
func (l *link) run() {
	cfg := &l.p.cfg
	log := cfg.Logger.With("server", l.addr, "link", l.kind)
	backoff := cfg.BackoffMin
	dialer := net.Dialer{Timeout: cfg.DialTimeout}
	// Warn once per outage; the retries of the same outage are Debug.
	quiet := false
	for {
		conn, err := dialer.DialContext(l.ctx, "tcp", l.addr)
		if err == nil {
			err = l.serve(rawsock.Wrap(conn)) // see package rawsock: no P handoff per read and write
			if l.wasAnswered() {
				backoff, quiet = cfg.BackoffMin, false
			}
		}
		l.settle()
		if l.ctx.Err() != nil {
			return
		}
		if quiet {
			log.Debug("link down", "err", err)
		} else {
			log.Warn("link down", "err", err)
			quiet = true
		}
		// ±20 % jitter so that the links of many daemons do not reconnect in step.
		d := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-l.ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, cfg.BackoffMax)
	}
}

func (l *link) wasAnswered() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.answered
}

// serve runs one connection until it breaks; it returns why.
func (l *link) serve(conn net.Conn) error {
	if !l.attach(conn) {
		_ = conn.Close()
		return ErrClosed
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		l.writeLoop(conn)
	}()
	err := l.readLoop(conn)
	l.fail(conn, err)
	<-writerDone
	return err
}

// attach makes conn the link's connection. Everything a previous
// connection knew (used tube, watched tubes, reserved jobs) is forgotten:
// the server gives a new connection the "default" tube.
func (l *link) attach(conn net.Conn) bool {
	if l.c != nil {
		l.c.mu.Lock() // reconcileLocked reads the consumer's tubes
		defer l.c.mu.Unlock()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conn = conn
	l.connDone = make(chan struct{})
	l.gen++
	l.wbuf = l.wbuf[:0]
	l.nwritten = 0
	l.rdl = 0
	l.using = "default"
	l.answered = false
	now := l.p.now()
	// The link carries traffic only once the server answered: a server that
	// accepts connections but never answers (hung) gets no puts.
	probe := l.p.getReq()
	probe.op, probe.async = opProbe, true
	l.wbuf = append(l.wbuf, "list-tube-used\r\n"...)
	l.push(probe, now)
	if l.c != nil {
		// The private wake tube is watched for the connection's life, so
		// every other tube can be ignored and a long poll can be ended.
		w := l.p.getReq()
		w.op, w.async, w.name = opWatch, true, l.wakeTube
		l.wbuf = appendWord(l.wbuf, "watch", l.wakeTube)
		l.push(w, now)
		clear(l.srvWatch)
		l.srvWatch["default"] = struct{}{}
		l.nbRes, l.blocking, l.idle, l.waking, l.window, l.opsSince = 0, false, false, false, 1, 0
		l.reconcileLocked(now)
	}
	return true
}

// push appends r to the reply queue; its command bytes are already in wbuf.
func (l *link) push(r *request, now int64) {
	r.start = now
	dl := now + int64(l.p.cfg.OpTimeout)
	if r.blocking {
		dl += int64(l.c.cfg.IdleWait)
	}
	r.sample = !r.blocking
	if t := l.q.tail(); t != nil && t.deadline > dl {
		// Behind a blocking reserve: the server answers after it.
		dl = t.deadline
		r.sample = false
	}
	r.deadline = dl
	if l.q.n == 0 && l.rdl != dl {
		// The reader may be blocked in Read without a deadline.
		l.rdl = dl
		_ = l.conn.SetReadDeadline(l.p.at(dl))
	}
	l.q.push(r)
	if l.blocking && !l.waking && l.c != nil {
		// This request waits behind a long poll: end the poll rather than
		// wait IdleWait for it. A watch must not stall a subscription: at
		// once. A job operation can wait OpWakeDelay, within which under
		// traffic a reserved job ends the poll and the wake (three more
		// operations on the server) is not needed.
		if d := l.c.cfg.OpWakeDelay; r.job != nil && d > 0 {
			if l.opsSince == 0 {
				l.opsSince = now
			}
			l.wakeLaterLocked(d)
			// The server applies it only once the poll is answered, and
			// then the reader sends the next reserve: it goes in that
			// write (see pollEndedLocked), not in one of its own.
			return
		}
		l.waking = true
		go l.c.wake(l.server, l.wakeTube)
	} else if l.nbRes > 0 && r.job != nil {
		// A non-blocking reserve is in flight: its answer comes within
		// the round trip, and whatever the reader sends then (the next
		// reserve) carries this operation in the same write.
		return
	}
	l.kickWriterLocked()
}

// kickWriterLocked wakes the writer if it waits while wbuf holds commands.
func (l *link) kickWriterLocked() {
	if l.idleW && len(l.wbuf) > 0 {
		l.idleW = false
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// pollEndedLocked is called once the long poll is answered; dispatch
// then wakes the writer for the job operations held back behind it (see
// push), which go with the reserve that follows, if any.
func (l *link) pollEndedLocked() {
	l.blocking, l.waking, l.opsSince = false, false, 0
}

// wakeLaterLocked arms the link's wake timer, unless it is armed.
func (l *link) wakeLaterLocked(d time.Duration) {
	if l.wakeSet {
		return
	}
	l.wakeSet = true
	if l.wakeT == nil {
		l.wakeT = time.AfterFunc(d, l.wakeLate)
		return
	}
	l.wakeT.Reset(d)
}

// wakeLate ends a long poll that job operations have waited behind for
// OpWakeDelay. Under traffic each poll ends with a job within that delay
// and the operations behind it go through, so the oldest one waiting
// behind the current poll is younger: the timer is set again for its
// turn instead.
func (l *link) wakeLate() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wakeSet = false
	if l.conn == nil || !l.blocking || l.waking || l.q.n <= 1 {
		return
	}
	if d := l.c.cfg.OpWakeDelay; l.opsSince != 0 {
		if left := time.Duration(l.opsSince + int64(d) - l.p.now()); left > 0 {
			l.wakeLaterLocked(left)
			return
		}
	}
	l.waking = true
	go l.c.wake(l.server, l.wakeTube)
}

// writeLoop flushes whatever accumulated in wbuf in one write syscall.
func (l *link) writeLoop(conn net.Conn) {
	var out []byte
	for {
		l.mu.Lock()
		if l.conn != conn {
			l.mu.Unlock()
			return
		}
		if len(l.wbuf) == 0 {
			l.idleW = true
			done := l.connDone
			l.mu.Unlock()
			select {
			case <-l.wake:
			case <-done:
				return
			}
			// Let the goroutines the reader just woke append their
			// commands first: more requests per write syscall under load.
			runtime.Gosched()
			continue
		}
		out, l.wbuf = l.wbuf, out[:0]
		l.nwritten = l.q.n
		l.mu.Unlock()
		l.writes.Add(1)
		if _, err := conn.Write(out); err != nil {
			l.fail(conn, fmt.Errorf("write: %w", err))
			return
		}
		if cap(out) > maxKeptWriteBuf {
			out = nil
		}
	}
}

// deadlineReader sets the read deadline to the oldest pending request's
// before each read: a server that stops answering is detected within
// OpTimeout of the oldest request, however busy the link is.
type deadlineReader struct {
	l    *link
	conn net.Conn
}

func (d *deadlineReader) Read(b []byte) (int, error) {
	l := d.l
	l.mu.Lock()
	if l.conn == d.conn {
		var dl int64
		if r := l.q.peek(); r != nil {
			dl = r.deadline
		}
		if dl != l.rdl {
			l.rdl = dl
			_ = d.conn.SetReadDeadline(l.p.at(dl))
		}
	}
	l.mu.Unlock()
	return d.conn.Read(b)
}

func (l *link) readLoop(conn net.Conn) error {
	br := bufio.NewReaderSize(&deadlineReader{l: l, conn: conn}, readBufSize)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return fmt.Errorf("%w: reply line longer than %d bytes", ErrProtocol, readBufSize)
			}
			return fmt.Errorf("read: %w", err)
		}
		rp, err := parseReply(line)
		if err != nil {
			return err
		}
		var body []byte
		var job *Job // a reserved job's, allocated with its body
		if n, ok := rp.bodyLen(); ok {
			// The line aliases the read buffer; the body read below reuses it.
			rp.name, rp.line = nil, nil
			if rp.kind == rReserved {
				job, body = newReservedJob(n + 2)
			} else {
				body = make([]byte, n+2)
			}
			if _, err := io.ReadFull(br, body); err != nil {
				return fmt.Errorf("read body: %w", err)
			}
			if body[n] != '\r' || body[n+1] != '\n' {
				return fmt.Errorf("%w: body not terminated by CRLF", ErrProtocol)
			}
			body = body[:n:n]
		}
		if err := l.dispatch(&rp, body, job); err != nil {
			return err
		}
	}
}

// expected is the success reply of each command.
var expected = [...]replyKind{
	opProbe: rUsing, opUse: rUsing, opPut: rInserted, opDelete: rDeleted,
	opKickJob: rKicked, opKick: rKicked, opStatsTube: rOK, opStatsJob: rOK,
	opListTubes: rOK, opPeek: rFound, opWatch: rWatching, opIgnore: rWatching,
	opReserve: rReserved, opRelease: rReleased, opBury: rBuried, opTouch: rTouched,
}

// dispatch matches one reply to the oldest request (job: the empty Job of
// a RESERVED reply). A reply that cannot belong to it means the stream is
// out of step: the link is dropped.
func (l *link) dispatch(rp *reply, body []byte, job *Job) error {
	l.mu.Lock()
	r := l.q.pop()
	if r == nil {
		l.mu.Unlock()
		return fmt.Errorf("%w: reply %q with no request", ErrProtocol, rp.line)
	}
	if l.nwritten > 0 {
		l.nwritten--
	}
	now := l.p.now()
	if r.sample {
		if d := now - r.start; l.rtt == 0 {
			l.rtt = d
		} else {
			l.rtt += (d - l.rtt) / 8
		}
	}
	l.answered = true
	var fatal error
	var deliver *Job
	if rp.kind == expected[r.op] {
		switch r.op {
		case opProbe:
			if l.c == nil || !l.c.closing.Load() {
				l.up.Store(true)
			}
			if l.everUp {
				l.reconnects.Add(1)
			}
			l.everUp = true
			l.settle()
		case opUse:
			if string(rp.name) != r.name {
				fatal = fmt.Errorf("%w: use %s answered %q", ErrProtocol, r.name, rp.name)
			}
		case opPut, opPeek:
			r.id = rp.a
		case opKick:
			r.n = rp.a
		case opReserve:
			deliver = l.reservedLocked(r, job, rp.a, body, now)
		}
		r.body = body
	} else {
		switch {
		case r.op == opPut && rp.kind == rBuried && rp.nargs == 1:
			r.id, r.err = rp.a, ErrBuried
		case r.op == opRelease && rp.kind == rBuried && rp.nargs == 0:
			r.err = ErrBuried
		case r.op == opReserve && (rp.kind == rTimedOut || rp.kind == rDeadlineSoon):
			l.reserveEmptyLocked(r, rp.kind == rDeadlineSoon, now)
		case r.op == opIgnore && rp.kind == rNotIgnored:
			// Only the last watched tube is refused; the reconcile never
			// ignores it, so this is a harmless disagreement.
		default:
			err, ok := serverError(r.op.String(), rp)
			if !ok || r.op == opUse || r.op == opWatch || r.op == opProbe || r.op == opReserve {
				// A failed use or watch would send later puts or reserves to
				// the wrong tube; start over on a new connection.
				fatal = fmt.Errorf("%w: %s answered %q", ErrProtocol, r.op, rp.line)
			}
			r.err = err
		}
	}
	l.kickWriterLocked() // job operations held back until an answer (see push)
	l.mu.Unlock()
	l.finish(r)
	if deliver != nil {
		l.c.h(deliver)
	}
	return fatal
}

// finish hands a completed request to its waiter or, for asynchronous
// requests, acts on the result itself.
func (l *link) finish(r *request) {
	if !r.async {
		if !r.complete() {
			l.p.putReq(r)
		}
		return
	}
	switch r.op {
	case opDelete, opRelease, opBury, opTouch:
		if r.job != nil { // nil: the delete of a wake job
			l.c.jobOpDone(r.job, r.op, r.err)
		}
	}
	l.p.putReq(r)
}

// fail closes conn (if it is still the link's connection) and fails every
// pending request: those never handed to the writer with ErrUnavailable (a
// Put may retry them elsewhere), the others with the connection's error.
func (l *link) fail(conn net.Conn, cause error) {
	l.mu.Lock()
	if l.conn != conn || conn == nil {
		l.mu.Unlock()
		return
	}
	l.conn = nil
	l.up.Store(false)
	l.gen++
	close(l.connDone)
	pend := l.failBuf[:0]
	for r := l.q.pop(); r != nil; r = l.q.pop() {
		pend = append(pend, r)
	}
	nwritten := l.nwritten
	l.nwritten = 0
	l.wbuf = l.wbuf[:0]
	l.rdl = 0
	l.using = ""
	if l.c != nil {
		clear(l.held)
		l.nbRes, l.blocking = 0, false
	}
	l.mu.Unlock()
	_ = conn.Close()

	werr := linkError(cause)
	for i, r := range pend {
		switch {
		case r.async && r.job != nil:
			r.err = ErrLinkLost
		case errors.Is(cause, ErrClosed):
			r.err = ErrClosed
		case i < nwritten:
			r.err = werr
		default:
			r.err = ErrUnavailable
		}
		l.finish(r)
		pend[i] = nil
	}
	l.mu.Lock()
	l.failBuf = pend[:0]
	l.mu.Unlock()
}

// close stops the link for good; pending requests fail with ErrClosed.
func (l *link) close() {
	l.mu.Lock()
	l.closed = true
	conn := l.conn
	l.mu.Unlock()
	l.cancel()
	if conn != nil {
		l.fail(conn, ErrClosed)
	}
}

// wait blocks until r completed or ctx is done.
func (l *link) wait(ctx context.Context, r *request) error {
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqWaiting, reqAbandoned) {
			return ctx.Err() // the reader recycles r
		}
		<-r.done
		return nil
	}
}

// do sends one command built by build and waits for its answer. The
// caller recycles r when do returns nil.
func (l *link) do(ctx context.Context, r *request, tube string, build func([]byte) []byte) error {
	l.mu.Lock()
	if l.conn == nil || !l.up.Load() {
		l.mu.Unlock()
		return ErrUnavailable
	}
	now := l.p.now()
	if tube != "" {
		l.useLocked(tube, now)
	}
	l.wbuf = build(l.wbuf)
	l.push(r, now)
	l.mu.Unlock()
	return l.wait(ctx, r)
}

// useLocked switches the connection to tube unless it already uses it.
func (l *link) useLocked(tube string, now int64) {
	if l.using == tube {
		return
	}
	u := l.p.getReq()
	u.op, u.async, u.name = opUse, true, tube
	l.wbuf = appendWord(l.wbuf, "use", tube)
	l.push(u, now)
	l.using = tube
}

func (l *link) stats() LinkStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LinkStats{
		Server:     l.server,
		Kind:       l.kind,
		Connected:  l.up.Load(),
		InFlight:   l.nwritten,
		Reconnects: l.reconnects.Load(),
		RTT:        time.Duration(l.rtt),
		Writes:     l.writes.Load(),
	}
}
