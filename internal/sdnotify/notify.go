package sdnotify

import (
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// socketEnv names the service manager's notification socket.
const socketEnv = "NOTIFY_SOCKET"

// Notifier sends notifications to one service manager socket. The zero
// value, and a nil *Notifier, send nothing.
type Notifier struct {
	addr *net.UnixAddr // nil: no service manager to tell
}

// FromEnv returns a Notifier for $NOTIFY_SOCKET; without it, one whose
// every call is a no-op.
func FromEnv() *Notifier { return New(os.Getenv(socketEnv)) }

// New returns a Notifier for the socket named socket (a path, or an
// abstract name starting with '@'); an empty socket gives a no-op one.
func New(socket string) *Notifier {
	if socket == "" {
		return &Notifier{}
	}
	// Go's unix socket addresses already read a leading '@' as the NUL
	// byte that starts an abstract name.
	return &Notifier{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}
}

// Enabled reports whether notifications go anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Notify sends states (KEY=VALUE assignments) as one datagram. Each call
// opens a socket of its own: the service manager may have re-created its
// socket since the last one (after a re-execution), and notifications are
// rare.
func (n *Notifier) Notify(states ...string) error {
	if !n.Enabled() {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify to %s: %w", n.addr.Name, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(states, "\n"))); err != nil {
		return fmt.Errorf("sd_notify to %s: %w", n.addr.Name, err)
	}
	return nil
}

// Ready says start-up (or a reload) is finished, with status as the
// unit's status line ("" for none).
func (n *Notifier) Ready(status string) error {
	return n.Notify(withStatus([]string{"READY=1"}, status)...)
}

// Stopping says the process is shutting down, with status as the unit's
// status line ("" for none).
func (n *Notifier) Stopping(status string) error {
	return n.Notify(withStatus([]string{"STOPPING=1"}, status)...)
}

// Reloading says a reload began; Ready ends it. It carries the monotonic
// clock's current value, which systemd 253 and later require.
func (n *Notifier) Reloading() error {
	if !n.Enabled() {
		return nil
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return fmt.Errorf("sd_notify: read the monotonic clock: %w", err)
	}
	usec := uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
	return n.Notify("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatUint(usec, 10))
}

// Watchdog pings the service manager's watchdog.
func (n *Notifier) Watchdog() error { return n.Notify("WATCHDOG=1") }

// Status sets the unit's status line; an empty one sends nothing.
func (n *Notifier) Status(status string) error {
	if status == "" {
		return nil
	}
	return n.Notify(withStatus(nil, status)...)
}

// withStatus appends a STATUS= assignment for status, unless it is empty.
// A status is one line: newlines would start assignments of their own.
func withStatus(states []string, status string) []string {
	if status == "" {
		return states
	}
	return append(states, "STATUS="+strings.ReplaceAll(status, "\n", " "))
}

// WatchdogInterval is the service manager's watchdog interval for this
// process ($WATCHDOG_USEC), 0 when there is none: not set, not a positive
// number, or meant for another process ($WATCHDOG_PID set to another pid).
// Ping at least twice per interval.
func WatchdogInterval() time.Duration {
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" {
		if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
			return 0
		}
	}
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 || usec > math.MaxInt64/int64(time.Microsecond) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond
}
