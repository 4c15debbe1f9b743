// Package probe answers two questions anything that starts a beanstalkd or
// redis-server of its own asks: which loopback port is free to give it, and
// does it answer yet. It links no test code, so production binaries (the
// load generator's bench orchestrator) and the test helpers share it.
package probe

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Kind names a server program.
type Kind string

// The servers probe can ping.
const (
	Beanstalkd Kind = "beanstalkd"
	Redis      Kind = "redis-server"
	MariaDB    Kind = "mariadbd"
)

// FreePort returns a loopback port that was free a moment ago. Another
// process can take it before the caller binds it: whoever starts a server
// on it retries with a new port when the bind fails.
//
// The port is picked at random below the kernel's ephemeral range (the
// local ports of outgoing connections), so that the many client
// connections of a test run cannot take it between the probe and the
// bind; only another server picking the same number can. Where that range
// leaves no room, the kernel picks (port 0).
func FreePort() (int, error) {
	lo, hi := serverPorts(ephemeralRange())
	for range 20 {
		if hi <= lo {
			break
		}
		p := lo + rand.IntN(hi-lo)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("probe free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralRange is the kernel's range of local ports for outgoing
// connections (Linux's ip_local_port_range), or its default where it
// cannot be read.
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l > h {
		return lo, hi
	}
	return l, h
}

// serverPorts is the range [lo, hi) FreePort picks from: the 10 000
// ports below the ephemeral range when they are unprivileged, else the
// ports above it; empty when neither fits.
func serverPorts(ephLo, ephHi int) (lo, hi int) {
	if ephLo-10000 >= 1024 {
		return ephLo - 10000, ephLo
	}
	if ephHi+1 <= 55535 {
		return ephHi + 1, ephHi + 10001
	}
	return 0, 0
}

// Ping checks that a server of kind answers a harmless command at addr
// (list-tubes for beanstalkd, PING for Redis; for MariaDB, which speaks
// first, its greeting); it is how anything that starts one of these
// servers knows it is ready.
func Ping(kind Kind, addr string) error { return PingTLS(kind, addr, nil) }

// PingTLS is Ping over TLS with tc (plain TCP when tc is nil).
func PingTLS(kind Kind, addr string, tc *tls.Config) error {
	c, err := dial(addr, tc)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if kind == MariaDB {
		return greeting(c, addr)
	}
	cmd, want := "list-tubes\r\n", "OK "
	if kind == Redis {
		cmd, want = "PING\r\n", "+PONG"
	}
	if _, err := c.Write([]byte(cmd)); err != nil {
		return fmt.Errorf("ping %s %s: %w", kind, addr, err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("ping %s %s: %w", kind, addr, err)
	}
	if !strings.HasPrefix(line, want) {
		return fmt.Errorf("ping %s %s: unexpected answer %q", kind, addr, line)
	}
	return nil
}

func dial(addr string, tc *tls.Config) (net.Conn, error) {
	if tc != nil {
		return tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, tc)
	}
	return net.DialTimeout("tcp", addr, time.Second)
}

// greeting reads a MySQL-protocol server's first packet: a 3-byte length,
// a sequence number and protocol version 10. An error packet (0xff: too
// many connections, host blocked, still starting) is not ready.
func greeting(c net.Conn, addr string) error {
	var head [5]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return fmt.Errorf("ping %s %s: %w", MariaDB, addr, err)
	}
	if head[4] != 10 {
		return fmt.Errorf("ping %s %s: greeting starts with 0x%02x, not protocol 10", MariaDB, addr, head[4])
	}
	return nil
}
