package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// listen opens a unix datagram socket named name, as the service manager
// does, and returns a function reading the next datagram.
func listen(t *testing.T, name string) (next func() string) {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, err := c.Read(buf)
		require.NoError(t, err)
		return string(buf[:n])
	}
}

func TestNotifyPathSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	next := listen(t, sock)
	n := New(sock)
	require.True(t, n.Enabled())

	require.NoError(t, n.Ready("dispatching 3 subscriptions"))
	assert.Equal(t, "READY=1\nSTATUS=dispatching 3 subscriptions", next())
	require.NoError(t, n.Ready(""))
	assert.Equal(t, "READY=1", next())
	require.NoError(t, n.Watchdog())
	assert.Equal(t, "WATCHDOG=1", next())
	require.NoError(t, n.Stopping("draining"))
	assert.Equal(t, "STOPPING=1\nSTATUS=draining", next())
	require.NoError(t, n.Status("two\nlines"))
	assert.Equal(t, "STATUS=two lines", next(), "a status stays one assignment")
}

// An abstract socket's name starts with '@' in $NOTIFY_SOCKET.
func TestNotifyAbstractSocketFromEnv(t *testing.T) {
	name := fmt.Sprintf("@medispatcher-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	next := listen(t, name)
	t.Setenv("NOTIFY_SOCKET", name)
	n := FromEnv()
	require.True(t, n.Enabled())
	require.NoError(t, n.Watchdog())
	assert.Equal(t, "WATCHDOG=1", next())
}

// RELOADING=1 carries the monotonic clock in µs, taken when it is sent.
func TestReloadingCarriesMonotonicClock(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	next := listen(t, sock)
	before := monotonicUsec(t)
	require.NoError(t, New(sock).Reloading())
	after := monotonicUsec(t)

	lines := strings.Split(next(), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, "RELOADING=1", lines[0])
	v, ok := strings.CutPrefix(lines[1], "MONOTONIC_USEC=")
	require.True(t, ok, lines[1])
	usec, err := strconv.ParseUint(v, 10, 64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, usec, before)
	assert.LessOrEqual(t, usec, after)
}

func monotonicUsec(t *testing.T) uint64 {
	t.Helper()
	var ts unix.Timespec
	require.NoError(t, unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts))
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
}

// Without $NOTIFY_SOCKET (not started by systemd) every call does nothing.
func TestNoSocketIsNoOp(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	for _, n := range []*Notifier{FromEnv(), New(""), nil} {
		assert.False(t, n.Enabled())
		assert.NoError(t, n.Ready("x"))
		assert.NoError(t, n.Stopping(""))
		assert.NoError(t, n.Reloading())
		assert.NoError(t, n.Watchdog())
		assert.NoError(t, n.Status("x"))
	}
}

// A socket nobody listens on is an error that names it.
func TestNotifyNoListener(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "gone.sock")
	err := New(sock).Ready("")
	require.Error(t, err)
	assert.Contains(t, err.Error(), sock)
}

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"30000000", "", 30 * time.Second},
		{"30000000", self, 30 * time.Second},
		{"30000000", "1", 0},         // meant for another process
		{"30000000", "not-a-pid", 0}, // not meant for us either
		{"0", "", 0},                 // no watchdog
		{"-5", "", 0},                // nonsense
		{"abc", "", 0},               // nonsense
		{"99999999999999999", "", 0}, // overflows a Duration
		{"500000", self, 500 * time.Millisecond},
	} {
		t.Setenv("WATCHDOG_USEC", c.usec)
		t.Setenv("WATCHDOG_PID", c.pid)
		assert.Equal(t, c.want, WatchdogInterval(), "WATCHDOG_USEC=%q WATCHDOG_PID=%q", c.usec, c.pid)
	}
}
