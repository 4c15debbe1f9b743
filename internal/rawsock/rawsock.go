// Package rawsock reads and writes TCP sockets with raw system calls that
// do not hand the goroutine's P off to another thread.
//
// Go's runtime treats every read and write as a system call that may block:
// if it lasts longer than a tick of the runtime's monitor (20 µs or more),
// the monitor retakes the P and starts another thread to run the other
// goroutines, and the monitor itself keeps waking every 20 µs while it
// finds such calls. On a virtualized host a write on a loopback or LAN
// socket takes 10–40 µs (the kernel delivers the packet and wakes its
// reader in the writer's context), so nearly every write and many reads
// cost a P handoff, a futex wake and two context switches. A profile of
// the daemon at 6 000 msgs/s put 15 % of its CPU in the monitor's sleeps
// and wakes alone (BENCHMARKS.md).
//
// The sockets of the net package are non-blocking: a read with no data or a
// write into a full buffer returns EAGAIN at once instead of blocking, and
// the net package's poller then parks the goroutine until the socket is
// ready. So these calls never block in the kernel, and making them without
// the runtime's bookkeeping holds the P only for the call's own few
// microseconds. Conn keeps the poller for the waiting (syscall.RawConn),
// and with it the deadlines and a concurrent Close. Under the race
// detector the calls tell it which bytes the kernel reads and writes, as
// syscall.Read and Write do (race.go).
package rawsock

import (
	"io"
	"net"
	"sync"
	"syscall"
	"unsafe"
)

// Conn is a TCP connection whose Read and Write make raw system calls. Its
// other methods are the *net.TCPConn's.
type Conn struct {
	*net.TCPConn
	rc     syscall.RawConn
	rd, wr op
}

// op is the state of the read or of the write in progress, and the
// function given to rc for it (allocated once: a read or write allocates
// nothing).
type op struct {
	c    *Conn
	mu   sync.Mutex
	trap uintptr // SYS_READ or SYS_WRITE
	name string  // "read" or "write", for errors
	// whole: the call is done once all of buf is written (a write), not
	// after the first bytes (a read).
	whole bool
	buf   []byte
	n     int
	err   error
	fn    func(fd uintptr) bool
}

// Wrap returns c as a Conn if it is a *net.TCPConn, else c itself (a TLS
// connection wraps the TCP connection it was made on instead).
func Wrap(c net.Conn) net.Conn {
	t, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := t.SyscallConn()
	if err != nil {
		return c
	}
	w := &Conn{TCPConn: t, rc: rc}
	w.rd = op{c: w, trap: syscall.SYS_READ, name: "read"}
	w.wr = op{c: w, trap: syscall.SYS_WRITE, name: "write", whole: true}
	w.rd.fn, w.wr.fn = w.rd.call, w.wr.call
	return w
}

// Read reads like net.Conn's Read: at most len(b) bytes, io.EOF once the
// peer closed, and the read deadline's error when it passes first.
func (c *Conn) Read(b []byte) (int, error) { return c.rd.do(b, c.rc.Read) }

// Write writes all of b like net.Conn's Write, waiting for room in the
// socket's buffer as often as it takes, until the write deadline.
func (c *Conn) Write(b []byte) (int, error) { return c.wr.do(b, c.rc.Write) }

// do runs the operation on b through wait (rc's Read or Write), which
// calls o.fn until it reports done, waiting in the poller in between.
func (o *op) do(b []byte, wait func(func(uintptr) bool) error) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf, o.n, o.err = b, 0, nil
	err := wait(o.fn)
	n := o.n
	if err == nil {
		err = o.err
	}
	o.buf, o.err = nil, nil
	return n, err
}

// call is rc's function: false asks the poller to wait until the socket is
// ready and call it again.
func (o *op) call(fd uintptr) bool {
	for o.n < len(o.buf) {
		if o.whole {
			raceWriting(o.buf[o.n:])
		}
		n, _, e := syscall.RawSyscall(o.trap, fd, uintptr(unsafe.Pointer(&o.buf[o.n])), uintptr(len(o.buf)-o.n))
		switch e {
		case 0:
			o.n += int(n)
			if !o.whole {
				if n == 0 {
					o.err = io.EOF
				} else {
					raceRead(o.buf[o.n-int(n) : o.n])
				}
				return true
			}
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			o.err = &net.OpError{Op: o.name, Net: "tcp", Source: o.c.LocalAddr(), Addr: o.c.RemoteAddr(), Err: e}
			return true
		}
	}
	return true
}
