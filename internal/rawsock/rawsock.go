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
// and with it the deadlines and a concurrent Close.
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
	rc syscall.RawConn

	// The state of the read and of the write in progress, and the
	// functions given to rc (allocated once: a read or write allocates
	// nothing).
	rmu     sync.Mutex
	rbuf    []byte
	rn      int
	rerr    error
	readFn  func(fd uintptr) bool
	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werr    error
	writeFn func(fd uintptr) bool
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
	w.readFn, w.writeFn = w.read, w.write
	return w
}

// Read reads like net.Conn's Read: at most len(b) bytes, io.EOF once the
// peer closed, and the read deadline's error when it passes first.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf, c.rn, c.rerr = b, 0, nil
	err := c.rc.Read(c.readFn)
	n := c.rn
	if err == nil {
		err = c.rerr
	}
	c.rbuf, c.rerr = nil, nil
	return n, err
}

// read is rc's read function: false asks the poller to wait until the
// socket is readable and call it again.
func (c *Conn) read(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch e {
		case 0:
			c.rn = int(n)
			if n == 0 {
				c.rerr = io.EOF
			}
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.rerr = &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: e}
			return true
		}
	}
}

// Write writes all of b like net.Conn's Write, waiting for room in the
// socket's buffer as often as it takes, until the write deadline.
func (c *Conn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wn, c.werr = b, 0, nil
	err := c.rc.Write(c.writeFn)
	n := c.wn
	if err == nil {
		err = c.werr
	}
	c.wbuf, c.werr = nil, nil
	return n, err
}

// write is rc's write function: false asks the poller to wait until the
// socket is writable and call it again.
func (c *Conn) write(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wbuf[c.wn])), uintptr(len(c.wbuf)-c.wn))
		switch e {
		case 0:
			c.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werr = &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: e}
			return true
		}
	}
	return true
}
