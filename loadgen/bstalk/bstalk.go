// Package bstalk is the load generator's own minimal pipelined beanstalkd
// client: one connection, one writer goroutine that batches commands into
// as few writes as the callers allow, one reader goroutine that completes
// them in order.
//
// It exists so that the benchmark ceiling (the bare beanstalkd dispatch
// cycle) and the end-of-run queue census do not depend on the code being
// measured (connpool). It is never used by the daemon and must never grow
// reconnects, pools or retries: a broken connection fails every pending and
// later request with the same error.
package bstalk

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"medispatcher/internal/wire"
)

// Op is a beanstalkd command.
type Op uint8

// The commands the load generator needs.
const (
	OpPut Op = iota + 1
	OpReserve
	OpDelete
	OpWatch
	OpIgnore
	OpStatsTube
	opUse // inserted by the writer when a put names another tube
)

// Errors answered by the server or met on the connection.
var (
	ErrNotFound = errors.New("beanstalkd: NOT_FOUND")
	ErrTimedOut = errors.New("beanstalkd: TIMED_OUT")
	ErrClosed   = errors.New("bstalk: connection closed")
)

// ReplyError is any other unexpected answer.
type ReplyError struct {
	Op    Op
	Reply string
}

func (e *ReplyError) Error() string { return fmt.Sprintf("beanstalkd op %d: %q", e.Op, e.Reply) }

// Request is one command and, once Wait returns, its answer. A Request may
// be reused after Wait; it must not be sent twice concurrently.
type Request struct {
	Op      Op
	Tube    string
	Body    []byte // put: the job; reserve: the job's body (reused buffer)
	ID      uint64 // delete: the job; put/reserve: the answered id
	Timeout int    // reserve-with-timeout seconds (-1: plain reserve)
	Pri     uint32
	TTR     int
	Stats   TubeStats // stats-tube answer

	Err  error
	done chan struct{}
}

// TubeStats is the part of stats-tube the census needs.
type TubeStats struct {
	Ready, Reserved, Delayed, Buried, Total int64
}

// InQueue is every job the tube still holds.
func (s TubeStats) InQueue() int64 { return s.Ready + s.Reserved + s.Delayed + s.Buried }

// Wait blocks until the answer arrived and returns its error.
func (r *Request) Wait() error {
	<-r.done
	return r.Err
}

// Conn is one pipelined beanstalkd connection.
type Conn struct {
	nc      net.Conn
	timeout time.Duration
	reqs    chan *Request
	pend    chan *Request
	closing chan struct{}
	once    sync.Once
	err     atomic.Pointer[error]
	wg      sync.WaitGroup
	useReq  Request // the writer's own "use" requests (answers are checked, not returned)
}

// Dial connects to addr. timeout bounds the dial and every answer's wait
// beyond a reserve's own timeout.
func Dial(addr string, timeout time.Duration) (*Conn, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("dial beanstalkd %s: %w", addr, err)
	}
	c := &Conn{
		nc:      nc,
		timeout: timeout,
		reqs:    make(chan *Request, 4096),
		pend:    make(chan *Request, 8192),
		closing: make(chan struct{}),
	}
	c.useReq.Op = opUse
	c.wg.Add(2)
	go c.writeLoop()
	go c.readLoop()
	return c, nil
}

// Close closes the connection; pending requests fail with ErrClosed.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	c.wg.Wait()
	return nil
}

func (c *Conn) fail(err error) {
	c.once.Do(func() {
		c.err.Store(&err)
		close(c.closing)
		_ = c.nc.Close()
	})
}

func (c *Conn) failure() error {
	if p := c.err.Load(); p != nil {
		return *p
	}
	return ErrClosed
}

// Send queues r without waiting for its answer.
func (c *Conn) Send(r *Request) {
	if r.done == nil {
		r.done = make(chan struct{}, 1)
	}
	r.Err = nil
	select {
	case c.reqs <- r:
		// The writer may have drained and quit just before: fail what it
		// will never take (a select picks at random when both are ready).
		select {
		case <-c.closing:
			c.drainReqs()
		default:
		}
	case <-c.closing:
		r.Err = c.failure()
		r.done <- struct{}{}
	}
}

// Do sends r and waits for its answer.
func (c *Conn) Do(r *Request) error {
	c.Send(r)
	return r.Wait()
}

// Put puts body into tube with wire.Priority and wire.TTR.
func (c *Conn) Put(tube string, body []byte) (uint64, error) {
	r := Request{Op: OpPut, Tube: tube, Body: body, Pri: wire.Priority, TTR: wire.TTRSeconds}
	err := c.Do(&r)
	return r.ID, err
}

// StatsTube returns stats-tube of tube; ErrNotFound when it does not exist.
func (c *Conn) StatsTube(tube string) (TubeStats, error) {
	r := Request{Op: OpStatsTube, Tube: tube}
	err := c.Do(&r)
	return r.Stats, err
}

func (c *Conn) writeLoop() {
	defer c.wg.Done()
	w := bufio.NewWriterSize(c.nc, 64<<10)
	var num []byte
	using := "default"
	for {
		var r *Request
		select {
		case r = <-c.reqs:
		case <-c.closing:
			c.drainReqs()
			return
		}
		if r.Op == OpPut && r.Tube != using {
			w.WriteString("use ")
			w.WriteString(r.Tube)
			w.WriteString("\r\n")
			using = r.Tube
			if !c.pending(&c.useReq) {
				c.complete(r, c.failure())
				continue
			}
		}
		switch r.Op {
		case OpPut:
			w.WriteString("put ")
			num = strconv.AppendUint(num[:0], uint64(r.Pri), 10)
			num = append(num, " 0 "...)
			ttr := r.TTR
			if ttr <= 0 {
				ttr = 60
			}
			num = strconv.AppendInt(num, int64(ttr), 10)
			num = append(num, ' ')
			num = strconv.AppendInt(num, int64(len(r.Body)), 10)
			num = append(num, "\r\n"...)
			w.Write(num)
			w.Write(r.Body)
			w.WriteString("\r\n")
		case OpReserve:
			if r.Timeout < 0 {
				w.WriteString("reserve\r\n")
			} else {
				num = append(strconv.AppendInt(append(num[:0], "reserve-with-timeout "...), int64(r.Timeout), 10), "\r\n"...)
				w.Write(num)
			}
		case OpDelete:
			num = append(strconv.AppendUint(append(num[:0], "delete "...), r.ID, 10), "\r\n"...)
			w.Write(num)
		case OpWatch:
			w.WriteString("watch " + r.Tube + "\r\n")
		case OpIgnore:
			w.WriteString("ignore " + r.Tube + "\r\n")
		case OpStatsTube:
			w.WriteString("stats-tube " + r.Tube + "\r\n")
		default:
			c.complete(r, fmt.Errorf("bstalk: unknown op %d", r.Op))
			continue
		}
		if !c.pending(r) {
			c.complete(r, c.failure())
			continue
		}
		// Flush only when nobody else is queued: concurrent callers share
		// one write, which is the whole point of pipelining.
		if len(c.reqs) == 0 {
			if err := w.Flush(); err != nil {
				c.fail(fmt.Errorf("write beanstalkd %s: %w", c.nc.RemoteAddr(), err))
			}
		}
	}
}

func (c *Conn) pending(r *Request) bool {
	select {
	case c.pend <- r:
		// Same race as in Send, with the reader.
		select {
		case <-c.closing:
			c.drainPend()
		default:
		}
		return true
	case <-c.closing:
		return false
	}
}

func (c *Conn) drainReqs() {
	for {
		select {
		case r := <-c.reqs:
			c.complete(r, c.failure())
		default:
			return
		}
	}
}

func (c *Conn) complete(r *Request, err error) {
	r.Err = err
	if r == &c.useReq {
		return
	}
	r.done <- struct{}{}
}

func (c *Conn) readLoop() {
	defer c.wg.Done()
	rd := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		var r *Request
		select {
		case r = <-c.pend:
		case <-c.closing:
			c.drainPend()
			return
		}
		wait := c.timeout
		if r.Op == OpReserve {
			if r.Timeout < 0 {
				wait = 24 * time.Hour
			} else {
				wait += time.Duration(r.Timeout) * time.Second
			}
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(wait))
		err := c.readReply(rd, r)
		var re *ReplyError
		if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrTimedOut) && !errors.As(err, &re) {
			c.fail(fmt.Errorf("read beanstalkd %s: %w", c.nc.RemoteAddr(), err))
			c.complete(r, c.failure())
			c.drainPend()
			return
		}
		if r == &c.useReq {
			if err != nil {
				c.fail(fmt.Errorf("use on %s: %w", c.nc.RemoteAddr(), err))
			}
			continue
		}
		c.complete(r, err)
	}
}

func (c *Conn) drainPend() {
	for {
		select {
		case r := <-c.pend:
			c.complete(r, c.failure())
		default:
			return
		}
	}
}

func (c *Conn) readReply(rd *bufio.Reader, r *Request) error {
	line, err := rd.ReadSlice('\n')
	if err != nil {
		return err
	}
	line = bytes.TrimRight(line, "\r\n")
	word, rest, _ := bytes.Cut(line, []byte{' '})
	switch string(word) {
	case "INSERTED":
		r.ID, _ = strconv.ParseUint(string(rest), 10, 64)
		return nil
	case "USING", "DELETED", "WATCHING":
		return nil
	case "RESERVED":
		idb, nb, _ := bytes.Cut(rest, []byte{' '})
		r.ID, _ = strconv.ParseUint(string(idb), 10, 64)
		n, _ := strconv.Atoi(string(nb))
		return readBody(rd, n, &r.Body)
	case "OK":
		n, _ := strconv.Atoi(string(rest))
		var body []byte
		if err := readBody(rd, n, &body); err != nil {
			return err
		}
		r.Stats = parseTubeStats(body)
		return nil
	case "TIMED_OUT":
		return ErrTimedOut
	case "NOT_FOUND":
		return ErrNotFound
	case "DEADLINE_SOON":
		return &ReplyError{Op: r.Op, Reply: "DEADLINE_SOON"}
	}
	return &ReplyError{Op: r.Op, Reply: string(line)}
}

func readBody(rd *bufio.Reader, n int, dst *[]byte) error {
	if cap(*dst) < n+2 {
		*dst = make([]byte, n+2)
	}
	b := (*dst)[:n+2]
	if _, err := ioReadFull(rd, b); err != nil {
		return err
	}
	*dst = b[:n]
	return nil
}

func ioReadFull(rd *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := rd.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func parseTubeStats(y []byte) TubeStats {
	var s TubeStats
	for len(y) > 0 {
		var line []byte
		line, y, _ = bytes.Cut(y, []byte{'\n'})
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		switch string(k) {
		case "current-jobs-ready":
			s.Ready = n
		case "current-jobs-reserved":
			s.Reserved = n
		case "current-jobs-delayed":
			s.Delayed = n
		case "current-jobs-buried":
			s.Buried = n
		case "total-jobs":
			s.Total = n
		}
	}
	return s
}
