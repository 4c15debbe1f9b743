package farm

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// flipListener is the listener of a class with an outage: a port that can
// be taken down and brought up again. While it is down nothing listens on
// the port, so a connect fails with ECONNREFUSED, and the connections it
// had accepted are closed, so that no kept-alive connection carries a
// push through the outage. Accept waits while it is down instead of
// failing: one Serve carries it across the outage.
//
// A connection whose request is being answered when the port goes down is
// closed once the answer is written: cutting it earlier would lose the
// answer to a push the farm counted, and the push would come again as a
// duplicate. A push the handler sees while the port is down is refused
// (see isDown) and not counted.
type flipListener struct {
	addr   string      // host:port, the same after each reopening
	isDown atomic.Bool // read by the handler

	mu     sync.Mutex
	ln     net.Listener  // nil while down
	up     chan struct{} // closed when the port is listened on again, or for good
	closed bool
	conns  map[*trackedConn]struct{}
}

// listenFlip listens on a free port of host outside the kernel's range of
// ephemeral ports: while the port is down, no outgoing connection may take
// it as its own source port (a connect to it could then reach itself, and
// listening again would fail).
func listenFlip(host string) (*flipListener, error) {
	lo := ephemeralLow()
	var ln net.Listener
	var err error
	for i := 0; i < 100 && ln == nil; i++ {
		port := 10000 + rand.IntN(lo-10000)
		ln, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	}
	if ln == nil {
		return nil, fmt.Errorf("farm: listen for an outage class: %w", err)
	}
	up := make(chan struct{})
	close(up)
	return &flipListener{addr: ln.Addr().String(), ln: ln, up: up, conns: map[*trackedConn]struct{}{}}, nil
}

// ephemeralLow is the lowest port the kernel hands to outgoing
// connections (Linux's default when it cannot be read).
func ephemeralLow() int {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 10100 {
				lo = v
			}
		}
	}
	return lo
}

// Accept returns the next connection, waiting while the port is down;
// io.EOF once the listener is closed for good.
func (l *flipListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		ln, up, closed := l.ln, l.up, l.closed
		l.mu.Unlock()
		if closed {
			return nil, io.EOF
		}
		if ln == nil {
			<-up
			continue
		}
		c, err := ln.Accept()
		l.mu.Lock()
		current := l.ln == ln && !l.closed
		if err == nil && current {
			tc := &trackedConn{Conn: c, l: l}
			l.conns[tc] = struct{}{}
			l.mu.Unlock()
			return tc, nil
		}
		l.mu.Unlock()
		if err == nil {
			_ = c.Close() // accepted just as the port went down
			continue
		}
		if current {
			return nil, fmt.Errorf("farm: accept on %s: %w", l.addr, err)
		}
	}
}

// down stops listening and closes every connection accepted so far.
func (l *flipListener) down() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil || l.closed {
		return nil
	}
	err := l.ln.Close()
	l.ln = nil
	l.isDown.Store(true)
	l.up = make(chan struct{})
	for c := range l.conns {
		if !c.busy {
			_ = c.Conn.Close()
			delete(l.conns, c)
		}
	}
	if err != nil {
		return fmt.Errorf("farm: close %s: %w", l.addr, err)
	}
	return nil
}

// reopen listens on the port again.
func (l *flipListener) reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil || l.closed {
		return nil
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("farm: listen again on %s: %w", l.addr, err)
	}
	l.ln = ln
	l.isDown.Store(false)
	close(l.up)
	return nil
}

// connState follows whether a connection is answering a request (fasthttp's
// ConnState hook) and closes it once it has answered while the port is
// down.
func connState(nc net.Conn, s fasthttp.ConnState) {
	c, ok := nc.(*trackedConn)
	if !ok {
		return
	}
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s {
	case fasthttp.StateActive:
		c.busy = true
	case fasthttp.StateIdle:
		c.busy = false
		if l.isDown.Load() {
			_ = c.Conn.Close()
			delete(l.conns, c)
		}
	}
}

// Close stops listening for good; closing twice is no error.
func (l *flipListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var err error
	if l.ln != nil {
		err = l.ln.Close()
		l.ln = nil
	} else {
		close(l.up)
	}
	return err
}

// Addr is the port's address, listened on or not.
func (l *flipListener) Addr() net.Addr {
	a, err := net.ResolveTCPAddr("tcp", l.addr)
	if err != nil {
		return &net.TCPAddr{}
	}
	return a
}

// trackedConn is an accepted connection its listener can close.
type trackedConn struct {
	net.Conn
	l    *flipListener
	busy bool // answering a request; guarded by l.mu
}

// Close forgets the connection and closes it.
func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
